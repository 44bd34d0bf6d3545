package org.neurotome.output;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.Scratch;
import org.neurotome.Shutdown;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One writer per output at a time: a lock file {@code .<name>.lock} next to the output,
 * holding the writer's process id, locked with an operating-system file lock. The lock is
 * released (and the file removed) when the run ends, and by the operating system when the
 * process dies however it dies, so a crashed run's lock is stale and simply taken over. A
 * second run asking for a held lock fails at once with OUTPUT_FAILED, naming the pid that
 * holds it. Whoever takes the lock sweeps what dead runs left beside the output
 * ({@link Scratch#sweep}). The lock file is created exclusively and never opened through a link. The folders
 * created for the output are removed again at release when the run left nothing in them. The
 * lock is re-entrant within one thread (a recipe run holds it while the
 * checkpoint writer takes it again); another thread of the same process is refused like
 * another process.
 */
public final class OutputLock implements AutoCloseable {
    /** Locks this process holds, by lock file, with the thread holding each and how many times. */
    private static final Map<Path, OutputLock> HELD = new HashMap<>();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private final Thread owner;
    private final Runnable cleanup;
    private int depth = 1;
    /** The folders the lock's acquisition created for the output, deepest first: removed at release when empty. */
    private List<Path> created = List.of();

    private OutputLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
        this.owner = Thread.currentThread();
        // SIGTERM / SIGINT: the OS drops the lock with the process; the file goes too
        this.cleanup = () -> deleteIfOurs(file);
        Shutdown.onShutdown(cleanup);
    }

    /** The lock file of output {@code out} (a file or directory): {@code .<name>.lock} beside it. */
    public static Path lockFile(Path out) {
        Path abs = out.toAbsolutePath().normalize();
        return abs.resolveSibling("." + abs.getFileName() + ".lock");
    }

    /**
     * Takes the lock of output {@code out}, creating its parent directory; fails with
     * OUTPUT_FAILED when another run holds it.
     */
    public static OutputLock acquire(Path out) {
        Path abs = out.toAbsolutePath().normalize();
        Path file = lockFile(abs);
        synchronized (HELD) {
            OutputLock held = HELD.get(file);
            if (held != null) {
                if (held.owner != Thread.currentThread()) {
                    throw busy(abs, file, ProcessHandle.current().pid() + " (this process)");
                }
                held.depth++;
                return held;
            }
            List<Path> created = missingFolders(file.getParent());
            try {
                // never once a signal's cleanups have begun: they may just have removed this folder
                Shutdown.createDirectories(file.getParent());
                for (int attempt = 0; ; attempt++) {
                    OutputLock taken = Shutdown.creating(() -> tryTake(abs, file));
                    if (taken != null) {
                        taken.created = created;
                        HELD.put(file, taken);
                        // the only writer now: what dead runs left beside the output goes (or comes back)
                        Scratch.sweep(abs);
                        return taken;
                    }
                    if (attempt == 20) {
                        throw busy(abs, file, holder(file));
                    }
                }
            } catch (IOException e) {
                removeEmpty(created);
                throw NeurotomeException.outputFailed(abs + ": cannot take the lock " + file + ": "
                        + NeurotomeException.reason(e), e);
            } catch (RuntimeException e) {
                removeEmpty(created);
                throw e;
            }
        }
    }

    /** The folders from {@code dir} up that do not exist yet, deepest first. */
    private static List<Path> missingFolders(Path dir) {
        List<Path> missing = new ArrayList<>();
        for (Path p = dir; p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS); p = p.getParent()) {
            missing.add(p);
        }
        return missing;
    }

    /** Removes {@code folders} (deepest first) while they are empty: a run that wrote nothing leaves no folder. */
    private static void removeEmpty(List<Path> folders) {
        for (Path p : folders) {
            try {
                Files.delete(p);
            } catch (IOException e) {
                return; // not empty (the output is there, or someone else's file): kept, and so are its parents
            }
        }
    }

    /**
     * One attempt: lock the file at {@code file} and check that it is still the file at that
     * path (a releasing run deletes it; a run that opened it just before the deletion locks a
     * file nobody else sees, and must try again). Null when the file changed under us. The
     * check compares file keys from {@code stat}, never opening the file a second time: closing
     * any descriptor of a file drops the process's POSIX locks on it. The file is created
     * exclusively and never opened through a link: a symbolic link, a file with other hard links
     * (someone else's file) or anything but a regular file under its name is refused before a
     * byte is written.
     */
    private static OutputLock tryTake(Path out, Path file) throws IOException {
        Object before = key(file);
        if (before != null) {
            refuseForeign(out, file);
        }
        FileChannel ch;
        try {
            ch = before == null
                    ? FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)
                    : FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        } catch (FileAlreadyExistsException | NoSuchFileException e) {
            return null; // created or removed by another run meanwhile
        }
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            ch.close();
            throw busy(out, file, holder(file));
        }
        Object after = key(file);
        if (after == null || before != null && !before.equals(after) || nlink(file) != 1) {
            lock.release();
            ch.close();
            return null;
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
        ch.force(false);
        return new OutputLock(file, ch, lock);
    }

    /** Refuses a lock file name that holds a link or anything but a regular file of its own. */
    private static void refuseForeign(Path out, Path file) throws IOException {
        String what = Files.isSymbolicLink(file) ? "a symbolic link"
                : !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) ? "not a regular file"
                : nlink(file) != 1 ? "a file with " + nlink(file) + " hard links (another file's name)" : null;
        if (what != null) {
            throw new NeurotomeException(ExitCode.OUTPUT_FAILED, out + ": its lock file " + file + " is " + what
                    + "; refusing to write through it: remove it and run again");
        }
    }

    /** How many names {@code file} has (1 where the file system does not say). */
    private static int nlink(Path file) throws IOException {
        try {
            return (Integer) Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return 1;
        } catch (NoSuchFileException e) {
            return 0;
        }
    }

    /** The file key (device and inode) of {@code file}, or null when it does not exist. */
    private static Object key(Path file) throws IOException {
        try {
            Object key = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            return key != null ? key : file;
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** The pid written in a lock file, or "another process" when it cannot be read. */
    private static String holder(Path file) {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            return "another process";
        }
        try {
            String text = Files.readString(file).trim();
            String pid = text.split("\\s+")[0];
            return pid.matches("\\d+") ? pid : "another process";
        } catch (IOException e) {
            return "another process";
        }
    }

    private static NeurotomeException busy(Path out, Path file, String pid) {
        return new NeurotomeException(ExitCode.OUTPUT_FAILED, out + ": being written by pid " + pid + " (lock " + file
                + "); wait for that run to end");
    }

    /** Deletes the lock file if it still holds this process's pid (the shutdown path). */
    private static void deleteIfOurs(Path file) {
        if (holder(file).equals(Long.toString(ProcessHandle.current().pid()))) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // the OS lock dies with the process; a left file is stale and taken over
            }
        }
    }

    /** Releases the lock (the outermost release removes the file). */
    @Override
    public void close() {
        synchronized (HELD) {
            if (--depth > 0) {
                return;
            }
            HELD.remove(file);
            try {
                Files.deleteIfExists(file);
                lock.release();
                channel.close();
            } catch (IOException ignored) {
                // the lock goes with the channel or the process; a left file is stale
            }
            removeEmpty(created);
            Shutdown.cancel(cleanup);
        }
    }
}
