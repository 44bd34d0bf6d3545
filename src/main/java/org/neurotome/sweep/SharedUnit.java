package org.neurotome.sweep;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A unit that several variants of a sweep share: a result that depends on less than a whole
 * variant (an analysis's ranking, the baseline's eval scores), named by the SHA-256 of what it
 * depends on ({@link SweepPlan}) and kept in the unit store as one file,
 * {@code units/<key>/<file>}, written atomically. The first variant that needs it computes it
 * holding the entry's {@link StoreLock} (other threads and processes wait) and every variant,
 * the first one too, reads the stored file: a file half-written by a killed sweep is never there
 * to read, so the unit is computed again.
 */
sealed interface SharedUnit permits SharedAnalysis, SharedBaseline, SharedShard {
    /** The content key. */
    String key();

    /** The name of its file in its folder of the store. */
    String fileName();

    /** What it is, in log lines ("shared ranking"). */
    String what();

    /** Its file in the unit store {@code store}. */
    default Path file(Path store) {
        return store.resolve(key()).resolve(fileName());
    }

    /** Whether it has been computed into {@code store}. */
    default boolean done(Path store) {
        return Files.isRegularFile(file(store));
    }

    /**
     * Reads it from {@code store}, computing it first when no one has.
     *
     * @param read    reads the stored file
     * @param compute writes the file (atomically) where it is given
     */
    default <T> T readOrCompute(Path store, Function<Path, T> read, Consumer<Path> compute, Consumer<String> log) {
        Path file = file(store);
        return StoreLock.holding(store, key(), () -> {
            if (Files.isRegularFile(file)) {
                log.accept(what() + " read from " + SweepPlan.UNITS + "/" + key());
            } else {
                compute.accept(file);
                log.accept(what() + " computed into " + SweepPlan.UNITS + "/" + key());
            }
            return read.apply(file);
        });
    }

    /**
     * Computes it into {@code store} unless it is there or another thread or process holds its
     * lock (and is computing it): returns at once rather than wait.
     */
    default void offer(Path store, Consumer<Path> compute, Consumer<String> log) {
        Path file = file(store);
        StoreLock.ifFree(store, key(), () -> {
            if (!Files.isRegularFile(file)) {
                compute.accept(file);
                log.accept(what() + " computed into " + SweepPlan.UNITS + "/" + key());
            }
        });
    }

    /** The distinct shared units of {@code units}. */
    static List<SharedUnit> of(List<Unit> units) {
        return units.stream().flatMap(u -> u.sharedUnits().stream()).distinct().toList();
    }
}
