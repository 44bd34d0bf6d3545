package org.neurotome.cli;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.Residency;
import org.neurotome.recipe.Plan;
import org.neurotome.recipe.Planner;
import org.neurotome.recipe.Recipe;
import org.neurotome.recipe.RecipeLoader;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The plan of every shipped recipe as a value: {@code apply --dry-run --json} prints it, the JSON
 * reads back into an equal plan, and the text {@code --dry-run} prints is that plan's text.
 */
class DryRunPlanTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"gender-debias", "arith-prune", "arith-prune-recover", "lora-layer-scan",
            "arith-head-ablation", "moe-expert-prune"})
    void theDryRunPrintsOnePlanAsTextAndAsJson(String name) {
        Path recipe = Path.of("recipes", name + ".yaml");
        String out = tmp.resolve("out").toString();
        String json = CliRun.stdout(0, "apply", recipe.toString(), "--out", out, "--dry-run", "--json");
        Plan printed = Plan.fromJson(json);
        assertEquals(printed, Plan.fromJson(printed.toJson()), "the JSON round trip keeps the plan");

        String text = CliRun.stdout(0, "apply", recipe.toString(), "--out", out, "--dry-run");
        assertEquals(printed.text() + "dry run: nothing was written\n", text.replace("\r\n", "\n"));

        Plan planned = Planner.plan(recipe, RecipeLoader.loadForRun(recipe, Map.of("output.dir", out)), false, MemoryBudget.parse(null));
        assertEquals(planned.stages(), printed.stages(), "the printed stages are the planner's");

        List<Plan.Stage> stages = printed.stages();
        assertInstanceOf(Plan.Model.class, stages.getFirst());
        assertTrue(stages.stream().anyMatch(s -> s instanceof Plan.Analyse), name + " analyses");
        assertTrue(stages.stream().anyMatch(s -> s instanceof Plan.Write), name + " writes its output");
        assertTrue(stages.stream().anyMatch(s -> s instanceof Plan.Evaluate), name + " is evaluated");
        assertEquals(name.contains("recover") || name.contains("scan"),
                stages.stream().anyMatch(s -> s instanceof Plan.Recover), name + " recovers with a LoRA");
        assertTrue(json.contains("\"stage\" : \"analyse\""), json);
    }

    /**
     * An analysis works in what the input model's weights leave of the budget, a recovery and an
     * evaluation (which open their own models after it is released) in all of it; the dry run
     * states each share, the manifest's stages leave them out (they depend on the machine).
     */
    @ParameterizedTest
    @ValueSource(strings = {"gender-debias", "arith-prune-recover"})
    void eachStageThatRunsAModelStatesItsShareOfTheBudget(String name) {
        Path recipe = Path.of("recipes", name + ".yaml");
        Recipe r = RecipeLoader.loadForRun(recipe, Map.of("output.dir", tmp.resolve("out").toString()));
        MemoryBudget budget = MemoryBudget.of(3L << 30, "a test budget");
        Plan plan = Planner.plan(recipe, r, false, budget);
        long weights;
        try (Checkpoint input = Checkpoint.open(r.model().path())) {
            weights = Residency.of(input, budget).bytes();
        }
        long left = budget.available();
        int shares = 0;
        for (Plan.Stage s : plan.stages()) {
            Long expected = switch (s) {
                case Plan.Analyse a -> left - weights;
                case Plan.Recover rc -> left;
                case Plan.Evaluate e -> left;
                default -> null;
            };
            if (expected != null) {
                shares++;
                assertTrue(s.line().contains("; works in " + String.format(Locale.ROOT, "%.1f MiB",
                        expected / (double) (1 << 20))), s.line());
                assertEquals(Plan.fromJson(plan.toJson()).stages().get(plan.stages().indexOf(s)), s);
            }
            assertEquals(expected, switch (s) {
                case Plan.Analyse a -> a.memory();
                case Plan.Recover rc -> rc.memory();
                case Plan.Evaluate e -> e.memory();
                default -> null;
            }, s.line());
        }
        assertTrue(shares >= 2, "an analysis and the evaluation at least: " + plan.text());
        assertTrue(plan.toJson().contains("\"memory\" : " + (left - weights)), plan.toJson());
        assertFalse(plan.manifestSection().toString().contains("memory"), plan.manifestSection().toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gender-debias"})
    void jsonWithoutDryRunIsRefused(String name) {
        CliRun run = CliRun.of("apply", Path.of("recipes", name + ".yaml").toString(), "--json");
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains("--json prints the plan of --dry-run"), run.err());
        assertFalse(run.err().contains("Exception"), run.err());
    }
}
