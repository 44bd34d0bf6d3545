package org.neurotome;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes one output file through a temporary sibling renamed into place, so a failure never
 * leaves a partial file where a finished one is expected (directories of tensors have their
 * own atomic writer, {@code checkpoint.CheckpointWriter}).
 */
public final class AtomicFile {
    private AtomicFile() {
    }

    /** Writes {@code text} as UTF-8 to {@code file}, creating its folder; failures are OUTPUT_FAILED errors. */
    public static void write(Path file, String text) {
        Path dir = file.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
            try {
                Files.writeString(tmp, text, StandardCharsets.UTF_8);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot write " + file + ": " + e.getClass().getSimpleName()
                    + " (" + e.getMessage() + ")", e);
        }
    }
}
