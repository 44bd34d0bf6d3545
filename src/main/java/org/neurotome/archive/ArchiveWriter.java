package org.neurotome.archive;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.Scratch;
import org.apache.commons.io.output.CloseShieldOutputStream;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Writes a directory as a reproducible tar archive (plain, gzip or zstd): the same files give
 * the same bytes on any machine and at any time. Entries are the directory's contents at the
 * archive's top (as {@code model.tar.gz} for model hosting expects), sorted by path, folders
 * before their contents; every entry has mtime 0, uid and gid 0, no user or group names, and
 * mode 644 (files) or 755 (folders); long names and sizes over 8 GiB use pax headers
 * (POSIX.1-2001). Hidden files (names starting with a dot, such as partial writes) are left
 * out. The archive is written to a hidden sibling ({@link Scratch}), flushed to disk and renamed
 * into place.
 */
public final class ArchiveWriter {
    private static final int BUFFER = 1 << 20;

    private ArchiveWriter() {
    }

    /**
     * Archives {@code dir} into {@code target} in {@code format}; an existing {@code target} is
     * replaced only with {@code force}. Failures are OUTPUT_FAILED and leave no file behind.
     *
     * @return the archive's path
     */
    public static Path write(Path dir, ArchiveFormat format, Path target, boolean force) {
        Path out = target.toAbsolutePath().normalize();
        if (Files.exists(out) && !force) {
            throw new NeurotomeException(ExitCode.OUTPUT_FAILED, out + ": already exists; pass --force to replace it");
        }
        try (Scratch partial = stage(dir, format, out)) {
            partial.moveTo(out);
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(out + ": cannot move the archive into place: " + e.getMessage(), e);
        }
        return out;
    }

    /**
     * Archives {@code dir} into a new hidden file beside {@code target} (a {@link Scratch},
     * created exclusively: a link planted under its name is removed, never written through),
     * flushed to disk, for the caller to move into place. Failures are OUTPUT_FAILED and leave
     * no file behind.
     */
    public static Scratch stage(Path dir, ArchiveFormat format, Path target) {
        Path out = target.toAbsolutePath().normalize();
        Path source = dir.toAbsolutePath().normalize();
        if (out.startsWith(source)) {
            throw NeurotomeException.badInput(out + ": an archive of " + source + " cannot be written inside it");
        }
        List<String> entries = entries(source);
        Scratch partial = Scratch.file(out, Scratch.PARTIAL);
        try (FileChannel ch = FileChannel.open(partial.path(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            OutputStream file = new BufferedOutputStream(Channels.newOutputStream(ch), BUFFER);
            // the tar stream's close ends the compressed stream but must leave the file open to be flushed
            try (TarArchiveOutputStream tar = new TarArchiveOutputStream(
                    format.compress(CloseShieldOutputStream.wrap(file)), "UTF-8")) {
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                tar.setAddPaxHeadersForNonAsciiNames(true);
                byte[] buffer = new byte[BUFFER];
                for (String name : entries) {
                    add(tar, source, name, buffer);
                }
                tar.finish();
            }
            file.flush();
            ch.force(true);
            return partial;
        } catch (IOException | RuntimeException e) {
            partial.close();
            if (e instanceof NeurotomeException ne) {
                throw ne;
            }
            throw NeurotomeException.outputFailed(out + ": cannot write the archive: " + e.getMessage(), e);
        }
    }

    /** Every folder and regular file under {@code dir} (following links), as sorted relative paths; folders end in {@code /}. */
    static List<String> entries(Path dir) {
        TreeSet<String> names = new TreeSet<>();
        try (Stream<Path> walk = Files.walk(dir, java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
            for (Path p : walk.filter(p -> !p.equals(dir)).toList()) {
                Path rel = dir.relativize(p);
                boolean hidden = false;
                for (Path part : rel) {
                    hidden |= part.toString().startsWith(".");
                }
                if (hidden) {
                    continue;
                }
                String name = rel.toString().replace(java.io.File.separatorChar, '/');
                if (Files.isDirectory(p)) {
                    names.add(name + "/");
                } else if (Files.isRegularFile(p)) {
                    names.add(name);
                } else {
                    throw NeurotomeException.badInput(p + ": neither a file nor a folder; an archive holds only those");
                }
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            throw NeurotomeException.badInput(dir + ": cannot list: " + e.getMessage());
        }
        return new ArrayList<>(names);
    }

    private static void add(TarArchiveOutputStream tar, Path dir, String name, byte[] buffer) throws IOException {
        boolean folder = name.endsWith("/");
        TarArchiveEntry e = new TarArchiveEntry(name, folder ? TarConstants.LF_DIR : TarConstants.LF_NORMAL);
        Path file = dir.resolve(name);
        e.setModTime(0);
        e.setUserId(0);
        e.setGroupId(0);
        e.setUserName("");
        e.setGroupName("");
        e.setMode(folder ? 040755 : 0100644);
        e.setSize(folder ? 0 : Files.size(file));
        tar.putArchiveEntry(e);
        if (!folder) {
            try (InputStream in = Files.newInputStream(file)) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    tar.write(buffer, 0, n);
                }
            }
        }
        tar.closeArchiveEntry();
    }
}
