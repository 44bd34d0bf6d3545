package org.neurotome;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes one output file through a temporary sibling renamed into place, so a failure never
 * leaves a partial file where a finished one is expected (directories of tensors have their
 * own atomic writer, {@code checkpoint.CheckpointWriter}).
 */
public final class AtomicFile {
    private static final AtomicLong COUNTER = new AtomicLong();

    private AtomicFile() {
    }

    /** Writes {@code text} as UTF-8 to {@code file}, creating its folder; failures are OUTPUT_FAILED errors. */
    public static void write(Path file, String text) {
        Path dir = file.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
            // created like any other file, so its mode follows the umask (a temp file's is 0600)
            Path tmp = dir.resolve("." + file.getFileName() + "." + ProcessHandle.current().pid() + "-"
                    + COUNTER.incrementAndGet() + ".tmp");
            try {
                Files.writeString(tmp, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot write " + file + ": " + NeurotomeException.reason(e), e);
        }
    }
}
