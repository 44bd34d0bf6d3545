package org.neurotome.cli;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.model.MemoryBudget;
import org.neurotome.recipe.Plan;
import org.neurotome.recipe.Planner;
import org.neurotome.recipe.RecipeLoader;

import java.nio.file.Path;
import java.util.List;
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
            "arith-head-ablation"})
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

    @ParameterizedTest
    @ValueSource(strings = {"gender-debias"})
    void jsonWithoutDryRunIsRefused(String name) {
        CliRun run = CliRun.of("apply", Path.of("recipes", name + ".yaml").toString(), "--json");
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains("--json prints the plan of --dry-run"), run.err());
        assertFalse(run.err().contains("Exception"), run.err());
    }
}
