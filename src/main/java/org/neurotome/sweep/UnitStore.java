package org.neurotome.sweep;

import org.neurotome.AtomicFile;
import org.neurotome.FileTree;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The units of a sweep on disk, under {@code <sweep>/units/<key>/}: {@code result.json}, written
 * atomically once the unit has finished (or failed), and {@code model/}, its checkpoint, written
 * as {@code apply} writes one (into a hidden partial directory renamed into place). A unit
 * counts as done only when its {@code result.json} says it finished, so a sweep killed at any
 * moment loses at most the units that were running, and a rerun runs exactly those again.
 */
public final class UnitStore {
    static final String RESULT = "result.json";

    private UnitStore() {
    }

    /** The unit's stored result, finished or failed, or empty when it never ended. */
    public static Optional<UnitResult> result(Unit unit) {
        Path file = unit.dir().resolve(RESULT);
        try {
            return Optional.of(UnitResult.fromJson(Files.readString(file)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(file + ": cannot read the unit's result: "
                    + NeurotomeException.reason(e), e);
        } catch (java.io.UncheckedIOException | IllegalArgumentException e) {
            // not a result this sweep can use (cut short by a full disk, written by hand): the unit runs again
            return Optional.empty();
        }
    }

    /** The unit's result when it finished and its checkpoint is still there (or not needed). */
    public static Optional<UnitResult> reusable(Unit unit, boolean needsModel) {
        return result(unit).filter(UnitResult::done).filter(r -> !needsModel || Files.isDirectory(unit.model()));
    }

    /** Records how the unit ended. */
    public static void record(Unit unit, UnitResult result) {
        AtomicFile.write(unit.dir().resolve(RESULT), result.toJson());
    }

    /** Removes a unit's checkpoint (its result stays): the sweep keeps only the best one. */
    public static void discardModel(Unit unit) {
        try {
            FileTree.delete(unit.model());
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(unit.model() + ": cannot remove: " + NeurotomeException.reason(e), e);
        }
    }
}
