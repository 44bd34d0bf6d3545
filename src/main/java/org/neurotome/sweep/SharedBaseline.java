package org.neurotome.sweep;

import org.neurotome.AtomicFile;
import org.neurotome.NeurotomeException;
import org.neurotome.eval.BaselineScores;
import org.neurotome.eval.Suite;
import org.neurotome.eval.SuiteEvaluation;
import org.neurotome.model.MemoryBudget;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * The evaluation of the unedited model that a sweep's variants share: every variant's eval
 * compares its output with the same input checkpoint on the same suite, so the input's scores on
 * the suite's cases are computed once into the unit store ({@code units/<key>/baseline.json})
 * and replayed by every variant's eval ({@link BaselineScores}), which then opens only its own
 * output. Its key is the SHA-256 of what the scores depend on ({@link SweepPlan}): the
 * neurotome version, the threads, the device, the input checkpoint's fingerprint, the suite's
 * tasks and the content of their data sets, so a grid over anything else (the edit, the gates)
 * shares it.
 *
 * @param key the content key
 */
public record SharedBaseline(String key) implements SharedUnit {
    @Override
    public String fileName() {
        return "baseline.json";
    }

    @Override
    public String what() {
        return "baseline scores";
    }

    /** The input's scores on {@code suite}, read from the store of {@code unit} or computed into it. */
    BaselineScores scores(Unit unit, Suite suite, Path input, ai.djl.Device device, MemoryBudget budget,
                          Consumer<String> log) {
        return readOrCompute(unit.store(), SharedBaseline::read, file -> AtomicFile.write(file,
                BaselineScores.of(SuiteEvaluation.run(suite, List.of(), input, null, device, budget, null,
                        (task, which, done, total) -> { })).toJson()), log);
    }

    private static BaselineScores read(Path file) {
        try {
            return BaselineScores.fromJson(Files.readString(file));
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(file + ": cannot read the shared baseline: "
                    + NeurotomeException.reason(e), e);
        } catch (UncheckedIOException | IllegalArgumentException e) {
            throw NeurotomeException.outputFailed(file + ": not the baseline scores a sweep writes (written by "
                    + "hand?); remove it and run the sweep again", e);
        }
    }
}
