package org.neurotome.recipe;

import org.neurotome.archive.ArchiveFormat;
import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;

/**
 * The recipe's {@code output}: where and how the edited checkpoint is written.
 *
 * @param dir          the output directory, resolved against the recipe's folder
 * @param dtype        tensor dtype (default keep: each tensor as in the input)
 * @param maxShardSize the largest safetensors shard; null = shard as the input is sharded
 * @param archive      also write {@code <dir>.tar[.gz|.zst]} beside the directory; null = none
 */
public record Output(Path dir, OutputDtype dtype, ByteSize maxShardSize, ArchiveFormat archive) {
    public Output {
        if (dir == null) {
            throw SchemaViolation.missingKey("dir", "the output checkpoint directory");
        }
        if (dtype == null) {
            dtype = OutputDtype.KEEP;
        }
    }

    /** Where the archive goes: the directory's path with the format's extension. */
    public Path archivePath() {
        return archive == null ? null : archive.besides(dir);
    }
}
