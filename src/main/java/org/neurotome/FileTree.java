package org.neurotome;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Removing a directory with everything in it (links are removed, never followed). */
public final class FileTree {
    private FileTree() {
    }

    /**
     * Deletes {@code dir} and its contents; nothing happens when it does not exist. Another
     * thread may be removing or adding entries at the same time (a shutdown cleanup beside the
     * command's own): an entry already gone is skipped, and one that vanishes under the walk is
     * an {@link IOException} like any other failure, so that a caller that retries can retry.
     */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> deepestFirst;
        try (Stream<Path> walk = Files.walk(dir)) {
            deepestFirst = walk.sorted(Comparator.reverseOrder()).toList();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        for (Path p : deepestFirst) {
            Files.deleteIfExists(p);
        }
    }

    /** As {@link #delete}, ignoring failures: for clean-up on a path that is already failing. */
    public static void deleteQuietly(Path dir) {
        try {
            delete(dir);
        } catch (IOException ignored) {
            // best effort: what is left is hidden (a dot name) and never taken for a finished output
        }
    }
}
