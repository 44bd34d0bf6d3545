package org.neurotome.recipe;

import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;

/**
 * The recipe's {@code output}: where and how the edited checkpoint is written.
 *
 * @param dir          the output directory, resolved against the recipe's folder
 * @param dtype        tensor dtype (default keep: each tensor as in the input)
 * @param maxShardSize the largest safetensors shard; null = shard as the input is sharded
 */
public record Output(Path dir, OutputDtype dtype, ByteSize maxShardSize) {
    public Output {
        if (dir == null) {
            throw SchemaViolation.missingKey("dir", "the output checkpoint directory");
        }
        if (dtype == null) {
            dtype = OutputDtype.KEEP;
        }
    }
}
