package org.neurotome.sweep;

import ai.djl.Device;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.analysis.ShardStore;
import org.neurotome.cna.Findings;
import org.neurotome.cna.Progress;
import org.neurotome.eval.BaselineScores;
import org.neurotome.eval.Suite;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.TorchThreads;
import org.neurotome.recipe.AnalysisSource;
import org.neurotome.recipe.Locate;
import org.neurotome.recipe.Recipe;
import org.neurotome.recipe.RecipeLoader;
import org.neurotome.recipe.RecipeRunner;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.BiFunction;

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
                    shared(unit, set, unitLog)));
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

    /** The unit's analyses and baseline: the shared ones read from the store or computed into it, the others run. */
    private static AnalysisSource shared(Unit unit, Map<String, String> set, Consumer<String> log) {
        return new AnalysisSource() {
            @Override
            public Findings findings(int step, Locate.Analysis analysis,
                                     BiFunction<Locate.Analysis, List<Integer>, Findings> run) {
                SharedAnalysis shared = unit.shared().stream().filter(s -> s.step() == step).findFirst().orElse(null);
                return shared == null ? run.apply(analysis, List.of()) : shared.findings(unit, set, analysis, run, log);
            }

            @Override
            public ShardStore shards(int step) {
                return unit.shared().stream().filter(s -> s.step() == step).findFirst()
                        .map(s -> s.shardStore(unit.store(), log)).orElse(ShardStore.OWN);
            }

            @Override
            public BaselineScores baseline(Suite suite, Path input, Device device, MemoryBudget budget) {
                return unit.baseline().scores(unit, suite, input, device, budget, log);
            }
        };
    }

    static String oneLine(String message) {
        return message == null ? "" : message.lines().map(String::strip).reduce((a, b) -> a + " " + b).orElse("");
    }

    private static double seconds(long t0) {
        return Math.round((System.nanoTime() - t0) / 1e7) / 100.0;
    }
}
