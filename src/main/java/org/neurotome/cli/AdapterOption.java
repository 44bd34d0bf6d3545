package org.neurotome.cli;

import org.neurotome.lora.LoraAdapter;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * The {@code --adapter DIR} option of commands that take a model: a PEFT LoRA adapter applied
 * to the model's weights as they are read (W + (α/r)·B·A), never merged into its files.
 */
public final class AdapterOption {
    @Option(names = "--adapter", paramLabel = "DIR",
            description = "A PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors), applied to "
                    + "the model's weights as they are read; the checkpoint is not changed.")
    Path adapter;

    /** The adapter, read and checked; null when none is given. */
    LoraAdapter read() {
        return adapter == null ? null : LoraAdapter.read(adapter);
    }
}
