package org.neurotome.archive;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.neurotome.FileTree;
import org.neurotome.NeurotomeException;
import org.neurotome.Sha256;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Unpacks a tar archive (plain, gzip or zstd) into a new directory in one streaming pass,
 * refusing a hostile or broken archive: an entry with an absolute path or a {@code ..}
 * component, a symbolic or hard link leading outside the archive, a device file or FIFO, a
 * duplicate name, a total size over the limit (a decompression bomb), a corrupt or truncated
 * stream. Each entry is checked before a byte of it is written; nothing is ever written
 * through a link (no entry may sit under a link's name); on any refusal the new directory is removed, so nothing is left behind.
 * Errors are BAD_CHECKPOINT and name the archive and the entry. The tar layout is POSIX.1-2001
 * (pax) with the GNU extensions commons-compress reads; an archive ends with a zero block.
 */
public final class ArchiveUnpacker {
    private static final int BUFFER = 1 << 20;
    /** Unpacked files are read-only: the cache is shared by every later use of the archive. */
    private static final java.util.Set<java.nio.file.attribute.PosixFilePermission> READ_ONLY =
            java.nio.file.attribute.PosixFilePermissions.fromString("r--r--r--");

    /**
     * What was unpacked.
     *
     * @param sha256  SHA-256 of the archive's bytes as they were read
     * @param entries entries unpacked
     * @param bytes   total size of the unpacked files
     */
    public record Unpacked(String sha256, int entries, long bytes) {
    }

    /** What a name is in the archive: a folder created for the entries under it is IMPLIED until its own entry comes. */
    private enum Kind { FILE, DIRECTORY, IMPLIED, LINK }

    /** A write into the directory being unpacked; its failure is the disk's, not the archive's. */
    private interface Write {
        void run() throws IOException;
    }

    private final Path archive;
    private final String shown;
    private final ArchiveFormat format;
    private final Path target;
    private final ArchiveLimits limits;
    private final Map<String, Kind> seen = new HashMap<>();
    private final List<String[]> symlinks = new ArrayList<>();
    private final byte[] buffer = new byte[BUFFER];
    private long total;
    /** The entry being read (null between entries) and its number, for messages. */
    private String entry;
    private int count;

    private ArchiveUnpacker(Path archive, String shown, ArchiveFormat format, Path target, ArchiveLimits limits) {
        this.archive = archive;
        this.shown = shown;
        this.format = format;
        this.target = target;
        this.limits = limits;
    }

    /**
     * Unpacks {@code archive} into {@code target}, which must not exist yet; on failure
     * {@code target} is removed again.
     *
     * @param shown how messages name the archive (the path the user gave)
     */
    public static Unpacked unpack(Path archive, String shown, ArchiveFormat format, Path target, ArchiveLimits limits) {
        try {
            Files.createDirectory(target);
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot create " + target + " to unpack " + shown + ": " + e, e);
        }
        try {
            return new ArchiveUnpacker(archive, shown, format, target, limits).run();
        } catch (RuntimeException | Error e) {
            FileTree.deleteQuietly(target);
            throw e;
        }
    }

    private Unpacked run() {
        checkMagic();
        MessageDigest digest = Sha256.digest();
        // the hash sits under the buffer: decompressors mark, reset and skip above it, and it sees every byte once
        try (InputStream file = Files.newInputStream(archive);
             InputStream raw = new BufferedInputStream(new Hashing(file, digest), BUFFER);
             InputStream data = format.decompress(raw);
             TarArchiveInputStream tar = new TarArchiveInputStream(data, "UTF-8")) {
            long before = 0;
            long padding = 0;
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                entry = e.getName();
                if (++count > limits.maxEntries()) {
                    throw refuse("the archive has more than " + limits.maxEntries() + " entries");
                }
                if (!e.isCheckSumOK()) {
                    throw refuse("its header checksum is wrong (a corrupt archive)");
                }
                long size = add(e, tar);
                padding = (512 - size % 512) % 512;
                before = tar.getBytesRead();
                entry = null;
            }
            // a stream that stops at an entry boundary reads as the end: insist on the zero block
            if (tar.getBytesRead() - before < padding + 512) {
                throw refuse("the archive is truncated: it stops without the end-of-archive block");
            }
            // the rest must decompress cleanly too (gzip's CRC and length, zstd's checksum)
            long trailing = drain(data);
            if (trailing > limits.maxBytes() - total) {
                throw refuse("the archive has " + trailing + " bytes after its end-of-archive block");
            }
            drain(raw);
        } catch (IOException ex) {
            throw refuse(describe(ex));
        }
        checkSymlinks();
        return new Unpacked(HexFormat.of().formatHex(digest.digest()), count, total);
    }

    /** Refuses a file whose first bytes say another format than its name. */
    private void checkMagic() {
        byte[] head = new byte[8];
        int n;
        try (InputStream in = Files.newInputStream(archive)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(shown + ": cannot read: " + describe(e));
        }
        String mismatch = format.mismatch(head, n);
        if (mismatch != null) {
            throw NeurotomeException.badCheckpoint(shown + ": named " + format.extension() + " but is " + mismatch
                    + "; archives are " + ArchiveFormat.allowed() + ", named by their extension");
        }
    }

    /** Checks one entry and writes it; returns the size of its data in the stream. */
    private long add(TarArchiveEntry e, TarArchiveInputStream tar) throws IOException {
        if (e.isGlobalPaxHeader()) {
            return e.getSize();
        }
        String name = checkedName(e.getName());
        if (e.isSymbolicLink()) {
            symlink(name, e.getLinkName());
            return 0;
        }
        if (e.isLink()) {
            hardLink(name, e.getLinkName());
            return 0;
        }
        if (e.isCharacterDevice() || e.isBlockDevice()) {
            throw refuse("it is a device file; a checkpoint holds only files, folders and links");
        }
        if (e.isFIFO()) {
            throw refuse("it is a FIFO; a checkpoint holds only files, folders and links");
        }
        if (e.isSparse()) {
            throw refuse("it is a sparse file, which is not supported");
        }
        if (e.isDirectory()) {
            if (!name.isEmpty()) {
                claim(name, Kind.DIRECTORY);
                directories(name);
            }
            return 0;
        }
        byte flag = e.getLinkFlag();
        if (flag != TarConstants.LF_NORMAL && flag != TarConstants.LF_OLDNORM && flag != TarConstants.LF_CONTIG) {
            throw refuse("its type '" + (char) flag + "' is not a file, folder or link");
        }
        if (name.isEmpty()) {
            throw refuse("a file entry needs a name");
        }
        long size = e.getSize();
        if (size < 0) {
            throw refuse("its size is negative");
        }
        if (size > limits.maxBytes() - total) {
            throw refuse("it would bring the unpacked size to " + (total + size) + " bytes, over the limit of "
                    + limits.maxBytes() + " (" + ArchiveLimits.MAX_BYTES_ENV + ", and the free space where it unpacks)");
        }
        claim(name, Kind.FILE);
        total += size;
        Path out = resolve(name);
        directories(parent(name));
        OutputStream[] o = new OutputStream[1];
        write(() -> o[0] = Files.newOutputStream(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS));
        try {
            long left = size;
            while (left > 0) {
                int n = tar.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw refuse("the archive is truncated inside this entry");
                }
                write(() -> o[0].write(buffer, 0, n));
                left -= n;
            }
        } finally {
            write(o[0]::close);
        }
        write(() -> Files.setPosixFilePermissions(out, READ_ONLY));
        return size;
    }

    /** The entry's path as components joined by {@code /}, with {@code .} and empty components dropped. */
    private String checkedName(String raw) {
        if (raw.indexOf('\0') >= 0) {
            throw refuse("its name contains a NUL character");
        }
        if (raw.startsWith("/") || raw.matches("(?s)[A-Za-z]:[/\\\\].*")) {
            throw refuse("it has an absolute path; entries must be relative to the archive's top");
        }
        List<String> parts = new ArrayList<>();
        for (String p : raw.split("/")) {
            if (p.equals("..")) {
                throw refuse("a '..' component leads outside the archive");
            }
            if (!p.isEmpty() && !p.equals(".")) {
                parts.add(p);
            }
        }
        return String.join("/", parts);
    }

    /** Records {@code name}; a second entry of the same name, or a file where a folder is, is refused. */
    private void claim(String name, Kind kind) {
        Kind before = seen.get(name);
        if (before == Kind.IMPLIED && kind != Kind.DIRECTORY) {
            throw refuse("'" + name + "' is a folder of entries earlier in the archive");
        }
        if (before != null && before != Kind.IMPLIED) {
            throw refuse("the name appears twice in the archive");
        }
        String parent = parent(name);
        while (!parent.isEmpty()) {
            Kind k = seen.get(parent);
            if (k == Kind.FILE || k == Kind.LINK) {
                throw refuse("'" + parent + "' is a " + (k == Kind.FILE ? "file" : "link") + " earlier in the archive, not a folder");
            }
            parent = parent(parent);
        }
        seen.put(name, kind);
    }

    /**
     * Creates the folder {@code name} and those above it ({@link #claim} has made sure that
     * none of them is a file or a link of the archive, so nothing is created through a link).
     */
    private void directories(String name) {
        if (name.isEmpty()) {
            return;
        }
        Path dir = target;
        String path = "";
        for (String p : name.split("/")) {
            dir = dir.resolve(p);
            path = path.isEmpty() ? p : path + "/" + p;
            seen.putIfAbsent(path, Kind.IMPLIED);
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                Path create = dir;
                write(() -> Files.createDirectory(create));
            }
        }
    }

    /** A symbolic link whose target, read from the link's folder, stays inside the archive. */
    private void symlink(String name, String linkTarget) {
        if (name.isEmpty()) {
            throw refuse("a link entry needs a name");
        }
        if (linkTarget.isEmpty() || linkTarget.indexOf('\0') >= 0 || linkTarget.startsWith("/")) {
            throw refuse("it is a symbolic link to '" + linkTarget + "', outside the archive; links must be relative and stay inside");
        }
        int depth = parent(name).isEmpty() ? 0 : parent(name).split("/").length;
        for (String p : linkTarget.split("/")) {
            if (p.equals("..")) {
                depth--;
            } else if (!p.isEmpty() && !p.equals(".")) {
                depth++;
            }
            if (depth < 0) {
                throw refuse("it is a symbolic link to '" + linkTarget + "', which leads outside the archive");
            }
        }
        claim(name, Kind.LINK);
        directories(parent(name));
        write(() -> Files.createSymbolicLink(resolve(name), Path.of(linkTarget)));
        symlinks.add(new String[] {name, linkTarget});
    }

    /** A hard link to a file earlier in the archive (a tar hard link names its target from the archive's top). */
    private void hardLink(String name, String linkTarget) {
        if (name.isEmpty()) {
            throw refuse("a link entry needs a name");
        }
        String to;
        try {
            to = checkedName(linkTarget);
        } catch (NeurotomeException e) {
            throw refuse("it is a hard link to '" + linkTarget + "', which leads outside the archive");
        }
        if (seen.get(to) != Kind.FILE) {
            throw refuse("it is a hard link to '" + linkTarget + "', which is not a file earlier in the archive");
        }
        claim(name, Kind.FILE);
        directories(parent(name));
        write(() -> Files.createLink(resolve(name), resolve(to)));
    }

    /** After unpacking: every symbolic link resolves, through any chain of links, to something inside. */
    private void checkSymlinks() {
        try {
            Path root = target.toRealPath();
            for (String[] link : symlinks) {
                entry = link[0];
                Path real;
                try {
                    real = resolve(link[0]).toRealPath();
                } catch (IOException e) {
                    throw refuse("it is a symbolic link to '" + link[1] + "', which is not in the archive");
                }
                if (!real.startsWith(root)) {
                    throw refuse("it is a symbolic link to '" + link[1] + "', which leads outside the archive");
                }
            }
            entry = null;
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot read back " + target + ": " + e, e);
        }
    }

    private Path resolve(String name) {
        return target.resolve(name);
    }

    private static String parent(String name) {
        int slash = name.lastIndexOf('/');
        return slash < 0 ? "" : name.substring(0, slash);
    }

    /** Runs a write into the target; an I/O failure there is OUTPUT_FAILED (the disk), not the archive's fault. */
    private void write(Write w) {
        try {
            w.run();
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot unpack " + shown + " into " + target + ": " + e, e);
        }
    }

    private long drain(InputStream in) throws IOException {
        long n = 0;
        for (int r; (r = in.read(buffer)) >= 0; ) {
            n += r;
            if (n > limits.maxBytes()) {
                return n;
            }
        }
        return n;
    }

    /** Hashes every byte read or skipped. */
    private static final class Hashing extends FilterInputStream {
        private final MessageDigest digest;

        Hashing(InputStream in, MessageDigest digest) {
            super(in);
            this.digest = digest;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                digest.update((byte) b);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                digest.update(b, off, n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            byte[] scratch = new byte[(int) Math.min(n, 1 << 16)];
            long skipped = 0;
            while (skipped < n) {
                int r = read(scratch, 0, (int) Math.min(scratch.length, n - skipped));
                if (r < 0) {
                    break;
                }
                skipped += r;
            }
            return skipped;
        }

        @Override
        public boolean markSupported() {
            return false;
        }
    }

    private NeurotomeException refuse(String why) {
        String where = entry == null ? "" : entry.isBlank() ? ": entry " + count : ": entry '" + entry + "'";
        return NeurotomeException.badCheckpoint(shown + where + ": " + why + "; the archive is refused and nothing is unpacked");
    }

    /** A read failure in words: the libraries' own message, or what an early end of input means. */
    private static String describe(IOException e) {
        String m = e.getMessage();
        if (e instanceof java.io.EOFException || m == null || m.isBlank()) {
            return "the stream ends early: a truncated archive";
        }
        return "the stream is damaged or truncated: " + m;
    }
}
