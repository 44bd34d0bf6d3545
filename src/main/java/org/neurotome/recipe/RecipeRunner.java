package org.neurotome.recipe;

import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;
import org.neurotome.output.OutputLock;
import org.neurotome.cna.Progress;
import org.neurotome.eval.EvalReport;
import org.neurotome.eval.ProgressListener;
import org.neurotome.model.MemoryBudget;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Runs a recipe end to end — locate, select, edit, (recover,) write, eval — the product's
 * main job: it checks and locks the output, makes the recipe's {@link Plan} ({@link Planner},
 * the same value {@code apply --dry-run} prints) and has {@link StageExecutor} run it. Analyses
 * run on the input model; their findings are selected and resolved into the edits; the edited
 * checkpoint is written atomically with its provenance ({@code recipe.yaml} verbatim,
 * {@code findings.json}, {@code manifest.json} with the plan's stages), after a recover stage
 * with its LoRA merged and the adapter beside it ({@link Recovery}); the eval stage then judges
 * the output against the input as baseline and writes its report under {@code eval/} in the
 * output directory (and the edited model's, before recovery, under {@code eval/before-recovery/}).
 */
public final class RecipeRunner {
    /** Where the eval stage's report goes, inside the output directory. */
    public static final String EVAL_DIR = "eval";
    public static final String FINDINGS_FILE = "findings.json";
    public static final String RECIPE_FILE = "recipe.yaml";
    /** The manifest's section that records the stages that ran, as {@code apply --dry-run --json} prints them. */
    public static final String PLAN_SECTION = "plan";

    /**
     * @param force           replace an earlier output
     * @param allowOtherModel use findings files computed on another model
     * @param log             one line per stage
     * @param analysis progress of long analyses
     * @param eval     progress of the eval stage
     * @param budget   memory every model of the run shares (weights kept or streamed)
     * @param analyses where the analyses' findings come from ({@link AnalysisSource#OWN}: computed here)
     */
    public record Options(boolean force, boolean allowOtherModel, Consumer<String> log, Progress analysis,
                          ProgressListener eval, MemoryBudget budget, AnalysisSource analyses) {
        /** These options with {@code share}, a plan stage's share of the budget, in place of the budget. */
        Options within(MemoryBudget share) {
            return new Options(force, allowOtherModel, log, analysis, eval, share, analyses);
        }
    }

    /**
     * What a run produced; {@code report} is null without an eval stage, {@code beforeRecovery}
     * (the edited model scored before a recover stage's LoRA) null without both stages,
     * {@code archive} null when none was asked for or a gate failed.
     */
    public record Outcome(Path out, Map<String, Selection> selections, EvalReport report, EvalReport beforeRecovery,
                          Path archive) {
    }

    private RecipeRunner() {
    }

    /**
     * The guard of a recipe's output: it may not overlap the recipe, anything the recipe reads
     * or the working directory, and replaces only an earlier neurotome output, with --force.
     */
    public static OutputGuard guard(Path recipeFile, Recipe recipe) {
        return OutputGuard.protecting(recipe.protectedInputs(recipeFile));
    }

    /**
     * Checks that the output may be written (as {@code --dry-run} does too), takes its lock for
     * the whole run, then runs the recipe: a refused or busy output fails before any analysis.
     */
    public static Outcome run(Path recipeFile, Recipe recipe, Options options) {
        OutputGuard guard = guard(recipeFile, recipe);
        Path out = guard.checkpointDirectory(recipe.output().dir(), options.force());
        archiveTarget(guard, recipe, options.force());
        try (OutputLock lock = OutputLock.acquire(out)) {
            guard.checkpointDirectory(out, options.force());
            Plan plan = Planner.plan(recipeFile, recipe, options.allowOtherModel(), options.budget());
            return StageExecutor.execute(plan, recipeFile, recipe, options, guard);
        }
    }

    /**
     * Checks where the recipe's archive goes, if it asks for one (as {@code --dry-run} does
     * too): not onto or into an input, and over an earlier archive only with --force.
     *
     * @return the archive's path, or null when the recipe asks for none
     */
    public static Path archiveTarget(OutputGuard guard, Recipe recipe, boolean force) {
        Path archive = recipe.output().archivePath();
        if (archive == null) {
            return null;
        }
        guard.file(archive, "a " + recipe.output().archive().id() + " archive", p -> true);
        if (Files.exists(archive) && !force) {
            throw new NeurotomeException(org.neurotome.ExitCode.OUTPUT_FAILED, archive + ": already exists; pass --force to replace it");
        }
        return archive;
    }

    /**
     * How the run's outputs record a path: relative to the recipe's folder, '/'-separated, so
     * the same recipe writes the same bytes from any working directory.
     */
    static Function<Path, String> recordedRelativeTo(Path recipeFile) {
        Path base = recipeFile.toAbsolutePath().normalize().getParent();
        return p -> {
            String r = base.relativize(p.toAbsolutePath().normalize()).toString().replace(java.io.File.separatorChar, '/');
            return r.isEmpty() ? "." : r;
        };
    }
}
