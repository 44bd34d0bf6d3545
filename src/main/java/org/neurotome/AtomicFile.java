package org.neurotome;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes one output file through a hidden temporary sibling ({@link Scratch}) renamed into
 * place, so a failure never leaves a partial file where a finished one is expected
 * (directories of tensors have their own atomic writer, {@code checkpoint.CheckpointWriter}).
 */
public final class AtomicFile {
    private AtomicFile() {
    }

    /** Writes {@code text} as UTF-8 to {@code file}, creating its folder; failures are OUTPUT_FAILED errors. */
    public static void write(Path file, String text) {
        // created like any other file, so its mode follows the umask (a temp file's is 0600)
        try (Scratch tmp = Scratch.temporary(file, Scratch.TMP)) {
            Files.writeString(tmp.path(), text, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            tmp.moveTo(file.toAbsolutePath());
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot write " + file + ": " + NeurotomeException.reason(e), e);
        }
    }
}
