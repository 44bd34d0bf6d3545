package org.neurotome.archive;

import org.neurotome.AtomicFile;
import org.neurotome.FileTree;
import org.neurotome.NeurotomeException;
import org.neurotome.Scratch;
import org.neurotome.Sha256;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Where archived checkpoints are read from: each archive is unpacked once into a private
 * cache directory named by the SHA-256 of its bytes, and every later use of the same bytes
 * reads that directory. The cache is {@code $NEUROTOME_CACHE_DIR/archives} (system property
 * {@code neurotome.cache.dir}), else {@code $XDG_CACHE_HOME/neurotome/archives}, else
 * {@code ~/.cache/neurotome/archives}, created with mode 700.
 *
 * <p>An archive unpacks, hashed as it streams, into a hidden sibling
 * {@code .unpack.partial-<pid>-<n>}, renamed to {@code <sha256>} only when complete, so a reader
 * never sees half an archive; when two processes unpack the same archive at once, the first
 * rename wins and the other's copy is dropped. A second use of an unchanged file (same path,
 * size, modification time and inode) is found through {@code stamps/} without reading it
 * again — but an entry is used only while it is as it was unpacked ({@link CacheEntry}: one
 * {@code stat} per file); a changed entry is unpacked anew. {@code verify} always unpacks the
 * archive afresh and checks those bytes, and its copy replaces a changed entry.
 * The same {@code stamps/} remember the SHA-256 of checkpoint files ({@link #sha256}).
 * Deleting the cache directory at any time when no neurotome command runs is safe.
 */
public final class ArchiveCache {
    public static final String DIR_PROPERTY = "neurotome.cache.dir";
    public static final String DIR_ENV = "NEUROTOME_CACHE_DIR";
    private static final String STAMPS = "stamps";
    private static final String INSTALL_LOCK = ".install.lock";

    /** Archives already resolved in this process, by cache root and stamp. */
    private static final Map<String, Path> RESOLVED = new ConcurrentHashMap<>();
    /** The archive each directory read in this process was unpacked from, as the user named it. */
    private static final Map<Path, Path> ARCHIVES = new ConcurrentHashMap<>();

    private ArchiveCache() {
    }

    /** The cache directory in force (it may not exist yet). */
    public static Path root() {
        String dir = System.getProperty(DIR_PROPERTY, System.getenv(DIR_ENV));
        if (dir != null && !dir.isBlank()) {
            return Path.of(dir).toAbsolutePath().resolve("archives");
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.toAbsolutePath().resolve("neurotome").resolve("archives");
    }

    /**
     * The checkpoint directory to read for {@code path}: {@code path} itself unless its name
     * ends in {@code .tar}, {@code .tar.gz} or {@code .tar.zst}, in which case the archive is
     * unpacked into the cache (once) and its checkpoint directory returned: the archive's top
     * level, or its single top-level folder when everything sits in one. A cache entry is used
     * only while it is as it was unpacked ({@link CacheEntry}); a changed one is unpacked anew.
     */
    public static Path directoryOf(Path path) {
        ArchiveFormat format = archiveFormat(path);
        if (format == null) {
            return path;
        }
        String stamp = stamp(path);
        Path root = root();
        Path entry = RESOLVED.get(root + "\n" + stamp);
        if (entry == null || !CacheEntry.intact(entry)) {
            createPrivate(root);
            String sha = readStamp(root, stamp);
            entry = sha == null ? null : root.resolve(sha);
            if (entry == null || !CacheEntry.intact(entry)) {
                try (Unpacked fresh = unpack(path, format, root)) {
                    entry = fresh.install();
                }
            }
            writeStamp(root, stamp, entry.getFileName().toString());
            RESOLVED.put(root + "\n" + stamp, entry);
        }
        Path dir = checkpointDir(entry);
        ARCHIVES.putIfAbsent(dir, path);
        return dir;
    }

    /**
     * The archive at {@code path} unpacked afresh, hashed as it streams, for {@code verify}: it
     * checks these bytes, never an earlier copy. Closing it keeps it as the archive's cache
     * entry unless a sound one is there already. A directory is returned as it is.
     */
    public static Unpacked unpackedAfresh(Path path) {
        ArchiveFormat format = archiveFormat(path);
        if (format == null) {
            return new Unpacked(path, path, null, null, null);
        }
        Path root = root();
        createPrivate(root);
        return unpack(path, format, root);
    }

    /** The format of an archive path, or null for a directory; a missing archive is refused. */
    private static ArchiveFormat archiveFormat(Path path) {
        ArchiveFormat format = ArchiveFormat.of(path).orElse(null);
        if (format == null || Files.isDirectory(path)) {
            return null;
        }
        if (!Files.isRegularFile(path)) {
            throw NeurotomeException.badCheckpoint(path + ": no such archive (a checkpoint is a directory, or a "
                    + ArchiveFormat.allowed() + " archive of one)");
        }
        return format;
    }

    /**
     * An archive unpacked into a staging directory beside the cache's entries, not yet an entry;
     * closing it removes what was not installed.
     */
    public static final class Unpacked implements AutoCloseable {
        private final Path top;
        private final Scratch staging;
        private final String sha;
        private final String stamp;
        private final Path archive;

        private Unpacked(Path archive, Path top, Scratch staging, String sha, String stamp) {
            this.archive = archive;
            this.top = top;
            this.staging = staging;
            this.sha = sha;
            this.stamp = stamp;
        }

        /** The checkpoint directory of what was unpacked; errors about it name the archive. */
        public Path dir() {
            if (staging == null) {
                return top;
            }
            Path dir = checkpointDir(top);
            ARCHIVES.putIfAbsent(dir, archive);
            return dir;
        }

        /**
         * Makes this the archive's cache entry, unless a sound one is there already (another
         * process, or the same bytes under another name); an entry that was changed is replaced.
         * Returns the entry.
         */
        Path install() {
            Path root = staging.path().getParent();
            Path entry = root.resolve(sha);
            if (CacheEntry.intact(entry)) {
                return entry;
            }
            synchronized (ArchiveCache.class) {
                try (FileChannel channel = FileChannel.open(root.resolve(INSTALL_LOCK), StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
                     FileLock lock = channel.lock()) {
                    return installLocked(root, entry);
                } catch (IOException e) {
                    throw NeurotomeException.outputFailed("cannot lock the archive cache " + root + ": " + e, e);
                }
            }
        }

        /**
         * The install itself, one at a time across threads and processes: two installs of one
         * archive at once would each write the entry's record and the second would take the
         * first's sound entry for a changed one and move it aside under its reader.
         */
        private Path installLocked(Path root, Path entry) {
            if (CacheEntry.intact(entry)) {
                return entry;
            }
            try {
                CacheEntry.record(top, entry);
                if (Files.exists(entry, LinkOption.NOFOLLOW_LINKS)) {
                    try (Scratch old = Scratch.temporary(root.resolve("stale"), Scratch.PARTIAL)) {
                        Files.move(entry, old.path(), StandardCopyOption.ATOMIC_MOVE);
                    }
                }
                Files.move(top, entry, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                // another process installed the same archive first
            } catch (AtomicMoveNotSupportedException e) {
                throw NeurotomeException.outputFailed(root + ": the cache's file system cannot rename directories atomically", e);
            } catch (IOException e) {
                if (!Files.isDirectory(entry)) {
                    throw NeurotomeException.outputFailed("cannot move " + top + " into place: " + e, e);
                }
            }
            return entry;
        }

        /** Keeps what was unpacked as the cache entry when none sound is there, and removes the rest. */
        @Override
        public void close() {
            if (staging == null) {
                return;
            }
            try {
                if (stamp != null && Files.isDirectory(top)) {
                    Path entry = install();
                    writeStamp(entry.getParent(), stamp, sha);
                }
            } catch (NeurotomeException e) {
                // the cache is only a cache: the next use unpacks the archive again
            } finally {
                staging.close();
            }
        }
    }

    /**
     * {@code message} with each directory an archive was unpacked into named by the archive, as
     * the user gave it: {@code model.tar.gz!/config.json} for a file inside it, so that an error
     * about a checkpoint read from an archive names the archive and never the cache.
     */
    public static String nameArchives(String message) {
        for (Map.Entry<Path, Path> e : ARCHIVES.entrySet()) {
            message = message.replace(e.getKey() + "/", e.getValue() + "!/")
                    .replace(e.getKey().toString(), e.getValue().toString());
        }
        return message;
    }

    /**
     * Unpacks {@code archive} into a staging directory, hashing it on the way (one pass over its
     * bytes): a hidden {@link Scratch} in the cache, removed on failure, on SIGTERM and, left by
     * a killed process, by a later unpack.
     */
    private static Unpacked unpack(Path archive, ArchiveFormat format, Path root) {
        removeAbandoned(root);
        String stamp = stamp(archive);
        Scratch staging = Scratch.temporary(root.resolve("unpack"), Scratch.PARTIAL);
        try {
            ArchiveLimits limits = ArchiveLimits.configured(freeSpace(root));
            String sha = ArchiveUnpacker.unpack(archive, archive.toString(), format, staging.path(), limits).sha256();
            return new Unpacked(archive, staging.path(), staging, sha, stamp);
        } catch (RuntimeException | Error e) {
            staging.close();
            throw e;
        }
    }

    /** The checkpoint inside an unpacked archive: its top, or the one folder everything is in. */
    private static Path checkpointDir(Path unpacked) {
        try (Stream<Path> list = Files.list(unpacked)) {
            List<Path> top = list.toList();
            if (top.size() == 1 && Files.isDirectory(top.getFirst()) && !Files.isSymbolicLink(top.getFirst())) {
                return top.getFirst();
            }
            return unpacked;
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(unpacked + ": cannot read the unpacked archive: " + e.getMessage());
        }
    }

    /**
     * The SHA-256 of each of {@code files}, in order: read from {@code stamps/} for a file
     * unchanged (same real path, size, modification time and inode) since it was last hashed,
     * else hashed ({@link Sha256#hexAll}) and recorded there when it did not change while being
     * read; so a checkpoint's fingerprint reads its gigabytes once, not on every command. With
     * no writable cache every file is hashed. {@code verify} never comes here: it always hashes.
     */
    public static List<String> sha256(List<Path> files) throws IOException {
        Path root = root();
        String[] stamps = new String[files.size()];
        String[] out = new String[files.size()];
        List<Integer> missing = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) {
            stamps[i] = stamp(files.get(i));
            out[i] = readStamp(root, stamps[i]);
            if (out[i] == null) {
                missing.add(i);
            }
        }
        if (!missing.isEmpty()) {
            List<String> hashed = Sha256.hexAll(missing.stream().map(files::get).toList());
            boolean record;
            try {
                createPrivate(root);
                record = true;
            } catch (NeurotomeException e) {
                record = false;
            }
            for (int k = 0; k < missing.size(); k++) {
                int i = missing.get(k);
                out[i] = hashed.get(k);
                if (record && stamp(files.get(i)).equals(stamps[i])) {
                    writeStamp(root, stamps[i], out[i]);
                }
            }
        }
        return List.of(out);
    }

    /** What identifies an unchanged file without reading it: real path, size, modification time, inode. */
    private static String stamp(Path archive) {
        try {
            Path real = archive.toRealPath();
            BasicFileAttributes a = Files.readAttributes(real, BasicFileAttributes.class);
            return real + "\n" + a.size() + "\n" + a.lastModifiedTime().toInstant() + "\n" + a.fileKey();
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(archive + ": cannot read: " + e.getMessage());
        }
    }

    private static Path stampFile(Path root, String stamp) {
        return root.resolve(STAMPS).resolve(Sha256.hex(stamp.getBytes(StandardCharsets.UTF_8)));
    }

    private static String readStamp(Path root, String stamp) {
        try {
            String s = Files.readString(stampFile(root, stamp)).strip();
            return s.matches("[0-9a-f]{64}") ? s : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static void writeStamp(Path root, String stamp, String sha) {
        try {
            // a hidden temporary beside it, renamed over it: removed on SIGTERM, swept if killed
            AtomicFile.write(stampFile(root, stamp), sha + "\n");
        } catch (NeurotomeException e) {
            // without a stamp the next use hashes the archive again; nothing is wrong
        }
    }

    private static void createPrivate(Path root) {
        try {
            if (!Files.isDirectory(root)) {
                Files.createDirectories(root.getParent());
                try {
                    Files.createDirectory(root, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                } catch (FileAlreadyExistsException e) {
                    // created by another process meanwhile
                }
            }
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot create the archive cache " + root + ": " + e
                    + " (set " + DIR_ENV + " to a writable folder)", e);
        }
    }

    private static long freeSpace(Path root) {
        try {
            return Files.getFileStore(root).getUsableSpace();
        } catch (IOException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Removes staging directories whose process has ended (killed mid-unpack). */
    private static void removeAbandoned(Path root) {
        try (Stream<Path> list = Files.list(root)) {
            for (Path p : list.toList()) {
                String name = p.getFileName().toString();
                int at = name.indexOf(".partial-");
                if (name.startsWith(".") && at > 0) {
                    String pid = name.substring(at + ".partial-".length()).split("-")[0];
                    if (pid.matches("\\d+") && ProcessHandle.of(Long.parseLong(pid)).isEmpty()) {
                        FileTree.deleteQuietly(p);
                    }
                }
            }
        } catch (IOException e) {
            // a stale partial costs disk space only
        }
    }
}
