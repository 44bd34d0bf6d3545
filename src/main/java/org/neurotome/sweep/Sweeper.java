package org.neurotome.sweep;

import org.neurotome.AtomicFile;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputLock;
import org.neurotome.model.MemoryBudget;
import org.neurotome.recipe.RecipeLoader;
import org.neurotome.recipe.RecipeRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs a planned sweep: finds the units already done in the store, has the engine run the
 * others, picks the best variant, keeps only its checkpoint (or all of them), and writes
 * {@code sweep.json} and {@code sweep.html} into the sweep's directory. {@link #collect} does
 * the same from units that a batch scheduler ran ({@code neurotome run-unit}), running nothing.
 */
public final class Sweeper {
    /**
     * @param keepAll keep every variant's checkpoint, not only the best one's
     * @param budget  memory the units share
     * @param log     progress lines
     */
    public record Options(boolean keepAll, MemoryBudget budget, Consumer<String> log) {
    }

    private Sweeper() {
    }

    /** Runs the units not done yet on {@code engine} and writes the result. */
    public static SweepResult run(SweepPlan plan, Engine engine, Options options) {
        long t0 = System.nanoTime();
        guard(plan);
        try (OutputLock lock = OutputLock.acquire(plan.dir())) {
            List<UnitResult> results = new ArrayList<>();
            List<Unit> todo = new ArrayList<>();
            for (Unit u : plan.units()) {
                UnitResult done = UnitStore.reusable(u, false).orElse(null);
                results.add(done);
                if (done == null) {
                    todo.add(u);
                }
            }
            // a shared unit is needed only by variants that run; those of reused variants count as reused
            List<SharedUnit> needed = SharedUnit.of(todo).stream().filter(a -> !a.done(storeOf(plan))).toList();
            int reused = plan.planned() - todo.size() - needed.size();
            options.log().accept(plan.planned() + " units planned: " + (todo.size() + needed.size()) + " to run"
                    + (needed.isEmpty() ? "" : " (" + shared(needed) + ")") + ", " + reused
                    + " reused" + (todo.isEmpty() ? "; nothing to run" : ""));
            fill(results, todo, engine.run(todo, plan.unitBytes(), options.budget(), options.log()));
            int run = todo.size() + (int) needed.stream().filter(a -> a.done(storeOf(plan))).count();
            reused = plan.planned() - run;
            int best = SweepResult.best(results, plan.objective());
            if (best >= 0 && !Files.isDirectory(plan.units().get(best).model())) {
                // the best variant's checkpoint was removed by an earlier sweep that chose another one
                Unit u = plan.units().get(best);
                options.log().accept("unit " + best + ": its checkpoint was not kept; running it again");
                fill(results, List.of(u), engine.run(List.of(u), plan.unitBytes(), options.budget(), options.log()));
                run++;
                reused--;
                best = SweepResult.best(results, plan.objective());
            }
            return write(plan, results, best, run, reused, options.keepAll(), seconds(t0));
        }
    }

    /**
     * Builds the result from units run elsewhere; every unit must have ended (finished or failed).
     */
    public static SweepResult collect(SweepPlan plan, boolean keepAll) {
        long t0 = System.nanoTime();
        guard(plan);
        try (OutputLock lock = OutputLock.acquire(plan.dir())) {
            List<UnitResult> results = new ArrayList<>();
            List<Integer> missing = new ArrayList<>();
            for (Unit u : plan.units()) {
                UnitResult r = UnitStore.result(u).orElse(null);
                results.add(r);
                if (r == null) {
                    missing.add(u.index());
                }
            }
            if (!missing.isEmpty()) {
                throw NeurotomeException.badInput("--collect: " + missing.size() + " of " + plan.units().size()
                        + " units have not run (index " + String.join(", ", missing.stream().map(String::valueOf)
                        .toList()) + "); run them with neurotome run-unit UNITS --index N");
            }
            return write(plan, results, SweepResult.best(results, plan.objective()), 0, plan.planned(), keepAll,
                    seconds(t0));
        }
    }

    /** The shared units to run, counted by kind: "1 shared analysis, 4 analysis shards, 1 baseline evaluation". */
    private static String shared(List<SharedUnit> needed) {
        long analyses = needed.stream().filter(u -> u instanceof SharedAnalysis).count();
        long shards = needed.stream().filter(u -> u instanceof SharedShard).count();
        long baselines = needed.size() - analyses - shards;
        List<String> parts = new ArrayList<>();
        if (analyses > 0) {
            parts.add(analyses + " shared analys" + (analyses == 1 ? "is" : "es"));
        }
        if (shards > 0) {
            parts.add(shards + " analysis shard" + (shards == 1 ? "" : "s"));
        }
        if (baselines > 0) {
            parts.add(baselines + " baseline evaluation" + (baselines == 1 ? "" : "s"));
        }
        return String.join(", ", parts);
    }

    private static Path storeOf(SweepPlan plan) {
        return plan.dir().resolve(SweepPlan.UNITS);
    }

    /** The sweep's directory may not overlap the recipe or anything it reads. */
    private static void guard(SweepPlan plan) {
        RecipeRunner.guard(plan.recipe(), RecipeLoader.parse(plan.recipe(), Map.of())).fileDirectory(plan.dir());
    }

    /** Puts each result of {@code ran} in the slot of its unit. */
    private static void fill(List<UnitResult> results, List<Unit> ran, List<UnitResult> got) {
        for (int i = 0; i < ran.size(); i++) {
            results.set(ran.get(i).index(), got.get(i));
        }
    }

    private static SweepResult write(SweepPlan plan, List<UnitResult> results, int best, int run, int reused,
                                     boolean keepAll, double seconds) {
        List<Boolean> kept = new ArrayList<>();
        for (Unit u : plan.units()) {
            boolean keep = u.index() == best || keepAll;
            if (!keep) {
                UnitStore.discardModel(u);
            }
            kept.add(keep && Files.isDirectory(u.model()));
        }
        SweepResult result = new SweepResult(plan, results, best, run, reused, kept, seconds);
        AtomicFile.write(plan.dir().resolve(SweepResult.JSON_FILE), result.json());
        AtomicFile.write(plan.dir().resolve(SweepResult.HTML_FILE), SweepHtml.render(result));
        return result;
    }

    private static double seconds(long t0) {
        return Math.round((System.nanoTime() - t0) / 1e7) / 100.0;
    }
}
