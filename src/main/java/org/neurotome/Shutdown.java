package org.neurotome;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The process's one shutdown hook, and how a signalled process ends. SIGTERM, SIGINT or SIGHUP
 * start the JVM's shutdown while the command's thread is still running, often inside libtorch;
 * once the hooks are done the JVM ends through the C library's {@code exit}, which runs
 * libtorch's static destructors under that thread (a SIGSEGV in {@code getAccelerator}). So
 * after a signal the hook runs the registered cleanups (removing hidden working entries and
 * lock files), flushes the console and ends the process with {@code _exit(128 + signal)},
 * the status the JVM gives a signalled process: no native destructor runs, so the engine is
 * never torn down while a thread is inside it. A command that ends by itself exits as usual.
 * The signal handlers are those of the JVM ({@code sun.misc.Signal}, Terminator), recording
 * the signal first. An entry is made and its cleanup registered in one {@link #creating}
 * section, which the hook waits for and which waits for ever once the hook has begun: a signal
 * never falls between the two.
 */
public final class Shutdown {
    private static final Set<Runnable> CLEANUPS = new LinkedHashSet<>();
    /** Shared by sections making an entry and registering its cleanup; the hook takes it whole, never to give it back. */
    private static final ReentrantReadWriteLock GATE = new ReentrantReadWriteLock();
    /** 128 + the signal that started the shutdown; 0 while none did. */
    private static volatile int signalled;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(Shutdown::onShutdown, "shutdown"));
    }

    private Shutdown() {
    }

    /**
     * Records the signal that ends the process (TERM, INT, HUP), so that it ends with
     * {@code _exit}; called once by the command line's main. A signal the process was started
     * ignoring stays ignored.
     */
    public static void handleSignals() {
        for (String name : List.of("TERM", "INT", "HUP")) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> {
                    signalled = 128 + s.getNumber();
                    System.exit(128 + s.getNumber());
                });
            } catch (IllegalArgumentException ignoredByThisJvm) {
                // -Xrs or a signal the platform lacks: the JVM's own handling stays
            }
        }
    }

    /** Work that makes an entry on disk and registers its cleanup. */
    @FunctionalInterface
    public interface Creation<T> {
        T make() throws java.io.IOException;
    }

    /** Runs {@code creation} whole before a shutdown's cleanups, or never. */
    public static <T> T creating(Creation<T> creation) throws java.io.IOException {
        GATE.readLock().lock();
        try {
            return creation.make();
        } finally {
            GATE.readLock().unlock();
        }
    }

    /**
     * Creates a directory and any missing parents, or never once a shutdown has begun: a thread
     * still writing while the cleanups remove its working entry must not make that entry again.
     */
    public static void createDirectories(java.nio.file.Path dir) throws java.io.IOException {
        creating(() -> java.nio.file.Files.createDirectories(dir));
    }

    /** Runs {@code cleanup} if the process is shut down before {@link #cancel} is called with it. */
    public static void onShutdown(Runnable cleanup) {
        synchronized (CLEANUPS) {
            CLEANUPS.add(cleanup);
        }
    }

    /** Forgets {@code cleanup}: the work it would undo is finished or undone. */
    public static void cancel(Runnable cleanup) {
        synchronized (CLEANUPS) {
            CLEANUPS.remove(cleanup);
        }
    }

    private static void onShutdown() {
        GATE.writeLock().lock();
        List<Runnable> cleanups;
        synchronized (CLEANUPS) {
            cleanups = new ArrayList<>(CLEANUPS);
        }
        for (Runnable cleanup : cleanups.reversed()) {
            try {
                cleanup.run();
            } catch (RuntimeException e) {
                // the next cleanup still runs; what is left is swept by the next run
            }
        }
        if (signalled != 0) {
            System.out.flush();
            System.err.flush();
            exitNow(signalled);
        }
    }

    /** The C library's {@code _exit}: ends the process without running atexit handlers or static destructors. */
    private static void exitNow(int status) {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle exit = linker.downcallHandle(linker.defaultLookup().find("_exit").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
            exit.invokeExact(status);
        } catch (Throwable e) {
            // no _exit here: the JVM ends the usual way
        }
    }
}
