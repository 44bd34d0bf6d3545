package org.neurotome;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A hidden working file or directory beside an output, {@code .<name>.<kind>-<pid>}: a partial
 * output renamed into place once finished, an earlier output moved aside while the new one takes
 * its name, the scratch files of a stage. It is removed when closed, by a shutdown hook on
 * SIGTERM or Ctrl-C, and — left by a process that died outright (SIGKILL, power loss) — by the
 * next run that makes one beside the same output: that run deletes every such entry of a
 * process that no longer exists, except an earlier output moved aside while nothing took its
 * name, which it moves back. Whatever held the name before, a link included, is removed, never
 * followed, and the entry is created anew (a file with {@code CREATE_NEW}).
 */
public final class Scratch implements AutoCloseable {
    /** A partial output, renamed into place when finished. */
    public static final String PARTIAL = "partial";
    /** An earlier output moved aside while the new one takes its name. */
    public static final String REPLACED = "replaced";
    /** An earlier output being deleted once the new one is in place. */
    private static final String DISCARDED = "discarded";
    /** A file written whole, then renamed over its target. */
    public static final String TMP = "tmp";

    private static final AtomicLong COUNTER = new AtomicLong();
    private static final String PID = Long.toString(ProcessHandle.current().pid());

    private final Path path;
    private final boolean directory;
    private final Runnable hook = this::onShutdown;
    /** Held while the entry moves into place, so that the shutdown hook sees it either before or after. */
    private final Object moving = new Object();
    private boolean moved;

    private Scratch(Path path, boolean directory) {
        this.path = path;
        this.directory = directory;
        Shutdown.onShutdown(hook);
    }

    /**
     * A new empty directory {@code .<name>.<kind>-<pid>} beside {@code out}, after sweeping what
     * dead processes left beside it; failures are OUTPUT_FAILED errors.
     */
    public static Scratch directory(Path out, String kind) {
        Path path = name(out, kind, "");
        try {
            return Shutdown.creating(() -> {
                prepare(out, path);
                Files.createDirectory(path);
                return new Scratch(path, true);
            });
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(path + ": cannot create: " + NeurotomeException.reason(e), e);
        }
    }

    /**
     * The name of a new file {@code .<name>.<kind>-<pid>} beside {@code out}, one per output and
     * process (nothing there: the caller creates it with {@code CREATE_NEW}), after sweeping what
     * dead processes left.
     */
    public static Scratch file(Path out, String kind) {
        return file(out, kind, "");
    }

    /**
     * The name of a new temporary file or folder {@code .<name>.<kind>-<pid>-<n>} beside
     * {@code out}, unique within the process (several threads may write the same file, or unpack
     * the same archive; the last rename wins), after sweeping what dead processes left.
     */
    public static Scratch temporary(Path out, String kind) {
        return file(out, kind, "-" + COUNTER.incrementAndGet());
    }

    private static Scratch file(Path out, String kind, String suffix) {
        Path path = name(out, kind, suffix);
        try {
            prepare(out, path);
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(path + ": cannot create: " + NeurotomeException.reason(e), e);
        }
        return new Scratch(path, false);
    }

    public Path path() {
        return path;
    }

    /**
     * Moves this entry to {@code out}'s name, replacing what is there: a file by one atomic
     * rename; a directory by moving the earlier one aside, renaming this into place and
     * deleting the earlier one (a run killed between the two renames leaves the earlier output
     * aside, and the next run moves it back; one killed while deleting it leaves a
     * {@code discarded} entry that the next run removes). The whole move is one
     * {@link Shutdown#creating} section: a signal's cleanups wait for it, and it never starts
     * once they have begun, so a cleanup never removes a name that the move then puts back
     * (an earlier output moved aside and, the rename failing, moved back).
     */
    public void moveTo(Path out) throws IOException {
        Shutdown.creating(() -> {
            moveNow(out);
            return null;
        });
    }

    private void moveNow(Path out) throws IOException {
        Path aside = null;
        synchronized (moving) {
            if (!directory) {
                move(path, out, true);
            } else {
                if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
                    aside = name(out, REPLACED, "");
                    FileTree.delete(aside);
                    Files.move(out, aside);
                }
                try {
                    move(path, out, false);
                } catch (IOException e) {
                    if (aside != null) {
                        Files.move(aside, out);
                    }
                    throw e;
                }
            }
            moved = true;
        }
        if (aside != null) {
            // renamed first: a half-deleted earlier output must never be moved back
            Path discarded = name(out, DISCARDED, "");
            try {
                FileTree.delete(discarded);
                Files.move(aside, discarded);
                aside = discarded;
            } catch (IOException e) {
                // deleted under its own name then; out exists, so it is never moved back
            }
            FileTree.deleteQuietly(aside);
        }
    }

    /** Removes the entry unless it was moved into place. */
    @Override
    public void close() {
        synchronized (moving) {
            if (!moved) {
                FileTree.deleteQuietly(path);
            }
        }
        Shutdown.cancel(hook);
    }

    /**
     * SIGTERM / Ctrl-C: removes the entry; the thread writing it may still be adding files, so
     * attempts are made for up to five seconds (writing a checkpoint into it takes about one).
     */
    private void onShutdown() {
        synchronized (moving) {
            for (int attempt = 0; attempt < 250 && !moved && Files.exists(path, LinkOption.NOFOLLOW_LINKS); attempt++) {
                try {
                    FileTree.delete(path);
                } catch (IOException e) {
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException interrupted) {
                        return;
                    }
                }
            }
        }
    }

    private static void move(Path from, Path to, boolean replace) throws IOException {
        try {
            if (replace) {
                Files.move(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } else {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (AtomicMoveNotSupportedException e) {
            if (replace) {
                Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.move(from, to);
            }
        }
    }

    private static Path name(Path out, String kind, String suffix) {
        Path abs = out.toAbsolutePath().normalize();
        return abs.resolveSibling("." + abs.getFileName() + "." + kind + "-" + PID + suffix);
    }

    /** Creates the output's folder, sweeps dead processes' entries and removes whatever holds {@code path}. */
    private static void prepare(Path out, Path path) throws IOException {
        Shutdown.createDirectories(path.getParent());
        sweep(out);
        FileTree.delete(path);
    }

    /**
     * Removes the entries beside {@code out} left by processes that no longer exist; an earlier
     * output moved aside while nothing took its name is moved back instead.
     */
    public static void sweep(Path out) {
        Path abs = out.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return;
        }
        Pattern ours = Pattern.compile("\\." + Pattern.quote(abs.getFileName().toString()) + "\\.([a-z]+)-(\\d+)(-\\d+)?");
        try (Stream<Path> list = Files.list(parent)) {
            for (Path p : list.toList()) {
                Matcher m = ours.matcher(p.getFileName().toString());
                if (!m.matches() || m.group(2).equals(PID) || ProcessHandle.of(Long.parseLong(m.group(2))).isPresent()) {
                    continue;
                }
                if (m.group(1).equals(REPLACED) && !Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
                    try {
                        Files.move(p, abs);
                        continue;
                    } catch (IOException e) {
                        // another run moved it back first, or took the name: it is stale
                    }
                }
                FileTree.deleteQuietly(p);
            }
        } catch (IOException | NumberFormatException e) {
            // what is left is hidden and costs disk space only; the next run tries again
        }
    }
}
