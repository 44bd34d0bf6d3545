package org.neurotome.archive;

import org.neurotome.FileTree;
import org.neurotome.NeurotomeException;
import org.neurotome.Sha256;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
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
 * again; {@code verify} always reads the archive afresh.
 * Deleting the cache directory at any time when no neurotome command runs is safe.
 */
public final class ArchiveCache {
    public static final String DIR_PROPERTY = "neurotome.cache.dir";
    public static final String DIR_ENV = "NEUROTOME_CACHE_DIR";
    private static final String STAMPS = "stamps";

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
     * level, or its single top-level folder when everything sits in one.
     */
    public static Path directoryOf(Path path) {
        return directoryOf(path, true);
    }

    /** As {@link #directoryOf(Path)}, hashing the archive afresh: for {@code verify}. */
    public static Path directoryOfVerified(Path path) {
        return directoryOf(path, false);
    }

    private static Path directoryOf(Path path, boolean trustStamp) {
        ArchiveFormat format = ArchiveFormat.of(path).orElse(null);
        if (format == null || Files.isDirectory(path)) {
            return path;
        }
        if (!Files.isRegularFile(path)) {
            throw NeurotomeException.badCheckpoint(path + ": no such archive (a checkpoint is a directory, or a "
                    + ArchiveFormat.allowed() + " archive of one)");
        }
        String stamp = stamp(path);
        Path root = root();
        Path known = RESOLVED.get(root + "\n" + stamp);
        if (trustStamp && known != null && Files.isDirectory(known)) {
            ARCHIVES.putIfAbsent(known, path);
            return known;
        }
        createPrivate(root);
        String sha = trustStamp ? readStamp(root, stamp) : null;
        if (sha == null || !Files.isDirectory(root.resolve(sha))) {
            sha = unpack(path, format, root);
        }
        Path unpacked = root.resolve(sha);
        writeStamp(root, stamp, sha);
        Path dir = checkpointDir(unpacked);
        RESOLVED.put(root + "\n" + stamp, dir);
        ARCHIVES.putIfAbsent(dir, path);
        return dir;
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
     * bytes), and renames the staging directory to the hash; when the hash is already there
     * (the same bytes under another name, or another process faster) the copy is dropped.
     * Returns the hash.
     */
    private static String unpack(Path archive, ArchiveFormat format, Path root) {
        removeAbandoned(root);
        Path staging = root.resolve(".unpack.partial-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        ArchiveLimits limits = ArchiveLimits.configured(freeSpace(root));
        String sha = ArchiveUnpacker.unpack(archive, archive.toString(), format, staging, limits).sha256();
        if (Files.isDirectory(root.resolve(sha))) {
            FileTree.deleteQuietly(staging);
            return sha;
        }
        try {
            Files.move(staging, root.resolve(sha), StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            FileTree.deleteQuietly(staging); // another process finished the same archive first
        } catch (AtomicMoveNotSupportedException e) {
            FileTree.deleteQuietly(staging);
            throw NeurotomeException.outputFailed(root + ": the cache's file system cannot rename directories atomically", e);
        } catch (IOException e) {
            FileTree.deleteQuietly(staging);
            if (!Files.isDirectory(root.resolve(sha))) {
                throw NeurotomeException.outputFailed("cannot move " + staging + " into place: " + e, e);
            }
        }
        return sha;
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
        Path file = stampFile(root, stamp);
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), ".stamp", ".tmp");
            Files.writeString(tmp, sha + "\n");
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
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
