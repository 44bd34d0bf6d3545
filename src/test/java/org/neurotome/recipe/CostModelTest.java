package org.neurotome.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.Json;
import org.neurotome.model.MemoryBudget;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The structure of the dry-run estimate (docs/estimates.md), never its figures against a clock:
 * ranges are ordered, the run's time is the sum of its stages' and its memory the largest stage
 * peak, every costed stage is named in the JSON, and the estimate moves the way the work does
 * (training costs memory, more steps cost time, more cases ranked one by one cost both).
 */
class CostModelTest {
    @TempDir
    Path tmp;

    private Estimate estimate(String recipe, Map<String, String> set) {
        Map<String, String> overrides = new LinkedHashMap<>(set);
        overrides.put("output.dir", tmp.resolve("out").toString());
        Path file = Path.of("recipes", recipe + ".yaml");
        return Planner.plan(file, RecipeLoader.loadForRun(file, overrides), false,
                MemoryBudget.parse(null)).estimate();
    }

    private static Estimate.StageCost stage(Estimate e, String prefix) {
        return e.stages().stream().filter(s -> s.stage().startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no stage " + prefix + " in " + e.stages()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"gender-debias", "arith-prune", "arith-prune-recover", "lora-layer-scan",
            "arith-head-ablation", "moe-expert-prune"})
    void rangesAreOrderedAndTheTotalsAreTheSumOfTimesAndTheLargestPeak(String recipe) {
        Estimate e = estimate(recipe, Map.of());
        double low = 0;
        double high = 0;
        double peakLow = 0;
        double peakHigh = 0;
        for (Estimate.StageCost s : e.stages()) {
            assertTrue(s.seconds().low() < s.seconds().high(), s.toString());
            assertTrue(s.memoryBytes().low() < s.memoryBytes().high(), s.toString());
            assertTrue(s.memoryBytes().high() >= e.rates().baseRssBytes(), "every stage runs in the JVM: " + s);
            low += s.seconds().low();
            high += s.seconds().high();
            peakLow = Math.max(peakLow, s.memoryBytes().low());
            peakHigh = Math.max(peakHigh, s.memoryBytes().high());
        }
        assertEquals(low, e.seconds().low(), 1e-9 * high);
        assertEquals(high, e.seconds().high(), 1e-9 * high);
        assertEquals(peakLow, e.memoryBytes().low());
        assertEquals(peakHigh, e.memoryBytes().high());
        List<String> names = e.stages().stream().map(Estimate.StageCost::stage).toList();
        assertEquals("model", names.getFirst());
        assertTrue(names.contains("output") && names.contains("eval"), names.toString());
        assertTrue(names.stream().anyMatch(n -> n.startsWith("locate ")), names.toString());
    }

    @Test
    void trainingCostsMoreMemoryThanAForwardOnlyRecipeAndMoreStepsCostTime() {
        Estimate scan = estimate("lora-layer-scan", Map.of());
        Estimate heads = estimate("arith-head-ablation", Map.of());
        assertTrue(scan.memoryBytes().low() > heads.memoryBytes().low(), scan.memoryBytes() + " vs " + heads.memoryBytes());
        assertTrue(stage(scan, "recover").memoryBytes().low() > stage(scan, "eval").memoryBytes().low(),
                "autograd's activations and the optimizer's state outweigh an eval batch");

        Estimate shortRecovery = estimate("lora-layer-scan", Map.of("recover.steps", "20"));
        assertTrue(stage(shortRecovery, "recover").seconds().high() < stage(scan, "recover").seconds().low() / 5,
                "20 steps against 300");
        assertEquals(stage(scan, "recover").memoryBytes(), stage(shortRecovery, "recover").memoryBytes(),
                "a step's memory does not depend on how many steps follow it");
    }

    @Test
    void rankingEachCaseOnItsOwnGrowsWithTheCases() {
        Estimate all = estimate("arith-prune", Map.of());
        Estimate few = estimate("arith-prune", Map.of("locate.1.limit", "30"));
        Estimate.StageCost allCna = stage(all, "locate arith_cna");
        Estimate.StageCost fewCna = stage(few, "locate arith_cna");
        assertTrue(allCna.work().contains("ranked per case (152 cases)"), allCna.work());
        assertTrue(fewCna.work().contains("ranked per case (30 cases)"), fewCna.work());
        assertTrue(allCna.memoryBytes().low() > fewCna.memoryBytes().high(), allCna + " vs " + fewCna);
        assertTrue(allCna.seconds().low() > fewCna.seconds().high(), allCna + " vs " + fewCna);
        assertEquals(stage(all, "locate arith_head"), stage(few, "locate arith_head"), "the head scan is the same");
    }

    @Test
    void theJsonNamesEveryFigure() throws Exception {
        Path recipe = Path.of("recipes", "arith-prune-recover.yaml");
        Plan plan = Planner.plan(recipe, RecipeLoader.loadForRun(recipe, Map.of("output.dir", tmp.resolve("out").toString())),
                false, MemoryBudget.parse(null));
        JsonNode e = Json.MAPPER.readTree(plan.toJson()).get("estimate");
        for (String range : List.of("seconds", "memoryBytes")) {
            assertTrue(e.get(range).get("low").isNumber() && e.get(range).get("high").isNumber(), e.toString());
        }
        assertEquals(plan.estimate().stages().size(), e.get("stages").size());
        for (JsonNode s : e.get("stages")) {
            for (String field : List.of("stage", "work", "seconds", "memoryBytes")) {
                assertTrue(s.has(field), field + " in " + s);
            }
        }
        for (String rate : List.of("baseRssBytes", "flopsPerSecond", "elementSeconds", "maxHeapBytes", "timeSpread")) {
            assertTrue(e.get("rates").get(rate).isNumber(), rate + " in " + e.get("rates"));
        }
        assertTrue(plan.text().contains("\nestimate time "), plan.text());
        assertTrue(plan.text().contains("\n  recover   "), plan.text());
    }

    @Test
    void tokensAreCountedAsPiecesOfText() {
        // "12+34=" is six pieces (digits one by one, as the Llama and fixture tokenizers split them)
        assertEquals(1 + 6 * 1.15, CostModel.tokens("12+34="), 1e-12);
        assertEquals(1 + 7 * 1.15, CostModel.tokens("The sum of 0 and 2 is"), 1e-12);
        assertEquals(1, CostModel.tokens(""), 0);
    }
}
