package org.neurotome.recipe;

import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;

/**
 * The recipe's {@code model}: the input checkpoint, never modified.
 *
 * @param path   the Hugging Face checkpoint directory, resolved against the recipe's folder
 * @param device where analyses run (default auto)
 * @param name   the model's Hugging Face id, named as {@code base_model} in the output's model card;
 *               null = derived from the checkpoint ({@code release.BaseModel})
 */
public record ModelInput(Path path, Device device, String name) {
    public ModelInput {
        if (path == null) {
            throw SchemaViolation.missingKey("path", "the input checkpoint directory");
        }
        if (name != null && name.isBlank()) {
            throw SchemaViolation.of("empty text").at("name").got(name).allowed("a model id such as meta-llama/Llama-2-7b-hf");
        }
        if (device == null) {
            device = Device.AUTO;
        }
    }
}
