package org.neurotome.sweep;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.cna.Progress;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.TorchThreads;
import org.neurotome.recipe.Recipe;
import org.neurotome.recipe.RecipeLoader;
import org.neurotome.recipe.RecipeRunner;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs one unit where it stands — in the sweep's own process, in a Spark task, or as
 * {@code neurotome run-unit} under a batch scheduler: the recipe with the variant's overrides,
 * its output in the unit's folder, run by {@link RecipeRunner} exactly as {@code apply} runs it,
 * then its result recorded in the store. An error of the unit's own (a bad checkpoint, an output
 * that cannot be written) becomes a failed result, not an exception: the other units go on.
 */
public final class UnitRunner {
    private UnitRunner() {
    }

    /**
     * @param budget memory the unit's models share
     * @param log    the unit's progress lines
     */
    public static UnitResult run(Unit unit, MemoryBudget budget, Consumer<String> log) {
        long t0 = System.nanoTime();
        UnitResult result;
        try (TorchThreads threads = TorchThreads.use(unit.threads())) {
            Map<String, String> set = new LinkedHashMap<>(unit.overrides());
            set.put("output.dir", unit.model().toString());
            Recipe recipe = RecipeLoader.loadForRun(unit.recipe(), set);
            Consumer<String> unitLog = line -> log.accept("unit " + unit.index() + ": " + line);
            RecipeRunner.Outcome outcome = RecipeRunner.run(unit.recipe(), recipe, new RecipeRunner.Options(true,
                    false, unitLog, Progress.NONE, (task, which, done, total) -> { }, budget,
                    SharedAnalysis.source(unit, set, unitLog)));
            result = UnitResult.finished(unit, outcome.report(), Manifest.fingerprint(outcome.out()), seconds(t0));
        } catch (NeurotomeException e) {
            result = UnitResult.failed(unit, oneLine(e.getMessage()), e.exitCode().code(), seconds(t0));
        } catch (RuntimeException e) {
            result = UnitResult.failed(unit, "internal error: " + oneLine(String.valueOf(e)), ExitCode.INTERNAL.code(),
                    seconds(t0));
        }
        UnitStore.record(unit, result);
        return result;
    }

    static String oneLine(String message) {
        return message == null ? "" : message.lines().map(String::strip).reduce((a, b) -> a + " " + b).orElse("");
    }

    private static double seconds(long t0) {
        return Math.round((System.nanoTime() - t0) / 1e7) / 100.0;
    }
}
