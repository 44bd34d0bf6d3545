package org.neurotome.cli;

import org.neurotome.model.LanguageModel;
import picocli.CommandLine.Mixin;

import java.nio.file.Path;

/**
 * The options of a command that runs a model: {@code --device}, {@code --max-memory} and
 * {@code --threads} ({@link ResourceOptions}), and {@code --adapter}; and opening the model with
 * them.
 */
public final class ModelOptions {
    @Mixin
    DeviceOption device;

    @Mixin
    ResourceOptions resources;

    @Mixin
    AdapterOption adapter;

    /** The checkpoint at {@code dir} on the chosen device, under the command's budget, with the adapter if one is given. */
    LanguageModel open(Path dir) {
        return LanguageModel.open(dir, device.resolve(), resources.budget(), adapter.read());
    }
}
