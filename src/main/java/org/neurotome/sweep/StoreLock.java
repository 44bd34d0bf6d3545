package org.neurotome.sweep;

import org.neurotome.NeurotomeException;
import org.neurotome.Shutdown;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The lock of one entry of a sweep's unit store ({@code units/<key>.lock}), held while a shared
 * unit is read or computed: an operating-system file lock keeps out other processes (Spark
 * executors, batch-scheduler tasks on the same file system), and a monitor per lock file the
 * other threads of this JVM, which a file lock does not exclude.
 */
final class StoreLock {
    private static final Map<Path, ReentrantLock> MONITORS = new ConcurrentHashMap<>();

    private StoreLock() {
    }

    /** Runs {@code work} holding the lock of entry {@code key} of {@code store}. */
    static <T> T holding(Path store, String key, Supplier<T> work) {
        Path lockFile = lockFile(store, key);
        ReentrantLock monitor = MONITORS.computeIfAbsent(lockFile, p -> new ReentrantLock());
        monitor.lock();
        try (FileChannel channel = open(store, lockFile); FileLock lock = channel.lock()) {
            return work.get();
        } catch (IOException e) {
            throw failed(lockFile, e);
        } finally {
            monitor.unlock();
        }
    }

    /** Runs {@code work} holding the lock of entry {@code key} of {@code store} if no one holds it; else nothing. */
    static void ifFree(Path store, String key, Runnable work) {
        Path lockFile = lockFile(store, key);
        ReentrantLock monitor = MONITORS.computeIfAbsent(lockFile, p -> new ReentrantLock());
        if (!monitor.tryLock()) {
            return;
        }
        try (FileChannel channel = open(store, lockFile); FileLock lock = channel.tryLock()) {
            if (lock != null) {
                work.run();
            }
        } catch (IOException e) {
            throw failed(lockFile, e);
        } finally {
            monitor.unlock();
        }
    }

    private static Path lockFile(Path store, String key) {
        return store.resolve(key + ".lock").toAbsolutePath().normalize();
    }

    private static FileChannel open(Path store, Path lockFile) throws IOException {
        Shutdown.createDirectories(store);
        return FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    }

    private static NeurotomeException failed(Path lockFile, IOException e) {
        return NeurotomeException.outputFailed(lockFile + ": cannot lock the shared unit: "
                + NeurotomeException.reason(e), e);
    }
}
