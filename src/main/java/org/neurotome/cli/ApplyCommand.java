package org.neurotome.cli;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.archive.ArchiveFormat;
import org.neurotome.eval.ReportWriter;
import org.neurotome.eval.SummaryTable;
import org.neurotome.recipe.AnalysisSource;
import org.neurotome.recipe.Plan;
import org.neurotome.recipe.Planner;
import org.neurotome.recipe.Recipe;
import org.neurotome.recipe.RecipeLoader;
import org.neurotome.recipe.RecipeRunner;
import org.neurotome.model.TorchThreads;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code neurotome apply RECIPE}: runs a surgery recipe end to end (locate, select, edit,
 * write, eval), or with {@code --dry-run} prints its plan and changes nothing.
 */
@Command(name = "apply", mixinStandardHelpOptions = true,
        description = "Run a surgery recipe: locate, select, edit, write the checkpoint, evaluate (exit 1 when a gate fails).")
public final class ApplyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RECIPE", description = "Recipe YAML (schema: docs/recipes.md).")
    Path recipe;

    @Option(names = "--dry-run", description = "Print the plan (stages, tensors touched, estimates) and write nothing.")
    boolean dryRun;

    @Option(names = "--json", description = "With --dry-run: print the plan as JSON (its stages, how the weights are held, the estimate).")
    boolean json;

    @Option(names = "--out", paramLabel = "DIR", description = "Output directory, instead of the recipe's output.dir.")
    Path out;

    @Option(names = "--force", description = "Replace an existing output directory (and archive).")
    boolean force;

    @Option(names = "--allow-other-model",
            description = "Use findings files (locate: from) computed on another model than the recipe's.")
    boolean allowOtherModel;

    @Option(names = "--archive", paramLabel = "FORMAT",
            description = "Also write the output as <dir>.tar, .tar.gz or .tar.zst (tar, tar.gz, tar.zst) when every gate passes.")
    String archive;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Override a recipe value before it is read, e.g. --set locate.0.top=5 (repeatable).")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Mixin
    ResourceOptions resources;

    @Override
    public Integer call() {
        Map<String, String> set = new LinkedHashMap<>(overrides);
        if (out != null) {
            if (set.containsKey("output.dir")) {
                throw NeurotomeException.badInput("--out and --set output.dir both choose the output; give one");
            }
            set.put("output.dir", out.toAbsolutePath().normalize().toString());
        }
        if (archive != null) {
            if (set.containsKey("output.archive")) {
                throw NeurotomeException.badInput("--archive and --set output.archive both choose the archive; give one");
            }
            set.put("output.archive", ArchiveFormat.parse(archive).id());
        }
        if (json && !dryRun) {
            throw NeurotomeException.badInput("--json prints the plan of --dry-run; use them together");
        }
        Recipe r = RecipeLoader.loadForRun(recipe, set);
        PrintWriter stdout = spec.commandLine().getOut();
        if (dryRun) {
            // what would refuse the output at once is refused now, not after the analyses
            org.neurotome.output.OutputGuard guard = RecipeRunner.guard(recipe, r);
            guard.checkpointDirectory(r.output().dir(), force);
            RecipeRunner.archiveTarget(guard, r, force);
            Plan plan = Planner.plan(recipe, r, allowOtherModel, resources.budget());
            if (json) {
                stdout.println(plan.toJson());
            } else {
                stdout.print(plan.text());
                stdout.println("dry run: nothing was written");
            }
            stdout.flush();
            return ExitCode.OK.code();
        }
        PrintWriter err = spec.commandLine().getErr();
        ProgressBar analysis = new ProgressBar(err);
        ProgressBar eval = new ProgressBar(err);
        RecipeRunner.Outcome outcome;
        try (TorchThreads threads = resources.threads()) {
            outcome = RecipeRunner.run(recipe, r, new RecipeRunner.Options(force, allowOtherModel,
                    line -> {
                        analysis.finish();
                        err.println(line);
                        err.flush();
                    },
                    analysis, (task, which, done, total) -> eval.update(task + " (" + which + ")", done, total),
                    resources.budget(), AnalysisSource.OWN));
        }
        eval.finish();
        stdout.println("wrote " + outcome.out());
        if (outcome.archive() != null) {
            stdout.println("wrote " + outcome.archive());
        }
        if (outcome.beforeRecovery() != null) {
            stdout.println("before recovery (the edited model against the input):");
            stdout.print(SummaryTable.render(outcome.beforeRecovery()));
            stdout.println("after recovery:");
        }
        if (outcome.report() == null) {
            stdout.flush();
            return ExitCode.OK.code();
        }
        return EvalCommand.verdict(outcome.report(),
                outcome.out().resolve(RecipeRunner.EVAL_DIR).resolve(ReportWriter.HTML_FILE), stdout, err);
    }
}
