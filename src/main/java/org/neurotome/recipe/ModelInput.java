package org.neurotome.recipe;

import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;

/**
 * The recipe's {@code model}: the input checkpoint, never modified.
 *
 * @param path   the Hugging Face checkpoint directory, resolved against the recipe's folder
 * @param device where analyses run (default auto)
 */
public record ModelInput(Path path, Device device) {
    public ModelInput {
        if (path == null) {
            throw SchemaViolation.missingKey("path", "the input checkpoint directory");
        }
        if (device == null) {
            device = Device.AUTO;
        }
    }
}
