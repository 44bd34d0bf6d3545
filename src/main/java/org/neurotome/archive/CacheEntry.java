package org.neurotome.archive;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.stream.Stream;

/**
 * What an archive unpacked into the cache looked like when it was unpacked, kept beside it as
 * {@code <sha256>.record}: every path under it with its kind, size, inode and change time
 * ({@code ctime}, which the file system sets on any change to a file — its bytes, its mode, its
 * links — and which no program can set back). An entry whose record is missing or no longer
 * matches has been changed since (or was left half-made) and is never used: the archive is
 * unpacked again in its place. The record costs one {@code stat} per file, not a read of the
 * weights.
 */
final class CacheEntry {
    private static final String SUFFIX = ".record";

    private CacheEntry() {
    }

    /** The record file of the entry at {@code dir}. */
    static Path recordOf(Path dir) {
        return dir.resolveSibling(dir.getFileName() + SUFFIX);
    }

    /**
     * Records {@code staging} (an unpacked archive about to be renamed to {@code dir}) as the
     * record of {@code dir}; renaming keeps every inode and change time under it.
     */
    static void record(Path staging, Path dir) throws IOException {
        Path tmp = staging.resolveSibling(staging.getFileName() + SUFFIX);
        Files.writeString(tmp, describe(staging));
        Files.move(tmp, recordOf(dir), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Whether the entry at {@code dir} exists and is as its record says it was unpacked. */
    static boolean intact(Path dir) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try {
            return Files.readString(recordOf(dir)).equals(describe(dir));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * One line per path under {@code dir}, sorted: relative path, kind, size, inode, change
     * time; the top folder itself is left out (renaming it changes its own change time), but
     * what it holds is listed, so an added or removed file shows.
     */
    private static String describe(Path dir) throws IOException {
        StringBuilder b = new StringBuilder();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(p -> !p.equals(dir)).sorted().toList()) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                String kind = a.isDirectory() ? "d" : a.isSymbolicLink() ? "l" : a.isRegularFile() ? "f" : "o";
                b.append(dir.relativize(p)).append('\t').append(kind).append('\t').append(a.size()).append('\t')
                        .append(a.fileKey()).append('\t').append(changeTime(p, a)).append('\n');
            }
        }
        return b.toString();
    }

    private static FileTime changeTime(Path p, BasicFileAttributes a) throws IOException {
        try {
            return (FileTime) Files.getAttribute(p, "unix:ctime", LinkOption.NOFOLLOW_LINKS);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return a.lastModifiedTime();
        }
    }
}
