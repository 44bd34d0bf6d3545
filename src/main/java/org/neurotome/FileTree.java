package org.neurotome;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Removing a directory with everything in it (links are removed, never followed). */
public final class FileTree {
    private FileTree() {
    }

    /** Deletes {@code dir} and its contents; nothing happens when it does not exist. */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
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
