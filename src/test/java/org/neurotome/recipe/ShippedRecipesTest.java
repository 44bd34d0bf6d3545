package org.neurotome.recipe;

import org.neurotome.arch.LayerRange;

import org.junit.jupiter.api.Test;
import org.neurotome.eval.Gate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The recipes shipped in {@code recipes/} are valid against the schema. They are parsed, not
 * loaded: the fixture checkpoints and eval datasets they read are built separately.
 */
class ShippedRecipesTest {
    static final Path RECIPES = Path.of("recipes");
    static final Path FIXTURE = Path.of("checkpoints/fixture-llama");

    @Test
    void everyShippedRecipeParses() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(RECIPES)) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertEquals(List.of("arith-head-ablation.yaml", "arith-prune-recover.yaml", "arith-prune.yaml",
                        "gender-debias.yaml", "lora-layer-scan.yaml", "moe-expert-prune.yaml"),
                files.stream().map(p -> p.getFileName().toString()).toList());
        for (Path f : files) {
            Recipe r = RecipeLoader.parse(f, Map.of());
            assertEquals(FIXTURE.getParent(), r.model().path().getParent(), f.toString());
            assertTrue(r.model().path().getFileName().toString().startsWith("fixture-"), f.toString());
            // outputs land where .gitignore keeps them out of the repository
            assertTrue(r.output().dir().getFileName().toString().endsWith("-out"), f.toString());
            assertEquals(Path.of("checkpoints"), r.output().dir().getParent(), f.toString());
        }
    }

    @Test
    void arithHeadAblationZerosTheTopScannedHeads() {
        Recipe r = RecipeLoader.parse(RECIPES.resolve("arith-head-ablation.yaml"), Map.of());
        Locate.HeadScan scan = assertInstanceOf(Locate.HeadScan.class, r.locate().getFirst());
        AnalysisInput.DatasetCases cases = assertInstanceOf(AnalysisInput.DatasetCases.class, scan.input());
        assertEquals(Path.of("eval/datasets/arithmetic.jsonl"), cases.dataset());
        assertEquals(new Select("arith_heads", "arith_scan", ComponentKind.HEADS, 2, null, null, false, null),
                r.select().getFirst());
        assertEquals(List.of(new Edit.ZeroHeads(new Reference("arith_heads"))), r.edit());
        assertEquals("arithmetic", r.eval().suite().name());
        assertEquals(List.of(Gate.parse("arithmetic.accuracy.delta <= -0.20"),
                Gate.parse("language.perplexity.rel_change <= 0.10")), r.eval().gates());
    }

    @Test
    void arithPruneKeepsPerCaseCnaNeuronsInTheDeepLayers() {
        Recipe r = RecipeLoader.parse(RECIPES.resolve("arith-prune.yaml"), Map.of());
        Locate.Cna cna = assertInstanceOf(Locate.Cna.class, r.locate().get(1));
        assertEquals(new CnaComparison.AblatedHeads(new Reference("arith_head")), cna.comparison());
        Select neurons = r.select().getFirst();
        assertEquals(ComponentKind.NEURONS, neurons.kind());
        assertTrue(neurons.perCase());
        assertEquals(List.of(new Edit.KeepNeurons(new Reference("arith_neurons"), new LayerRange(2, null))),
                r.edit());
    }

    @Test
    void arithPruneRecoverPrunesByBaseVersusLoraCnaAndRecoversOnTheScannedLayer() {
        Recipe r = RecipeLoader.parse(RECIPES.resolve("arith-prune-recover.yaml"), Map.of());
        Locate.LoraScan scan = assertInstanceOf(Locate.LoraScan.class, r.locate().getFirst());
        assertEquals("arithmetic", scan.train().corpus());
        assertEquals(new LayerRange(1, 1), scan.scan());
        Select neurons = r.select().getFirst();
        assertTrue(neurons.perCase());
        assertEquals(new LayerRange(2, null), neurons.layers());
        assertEquals(List.of(new Edit.KeepNeurons(new Reference("arith_neurons"), new LayerRange(2, null))), r.edit());
        assertEquals(new Reference("lora_cna"), r.recover().layers());
        assertEquals(scan.train().targetModules(), r.recover().targetModules());
        assertEquals("arithmetic", r.eval().suite().name());
    }

    @Test
    void loraLayerScanScansEveryLayerAndFineTunesTheBest() {
        Recipe r = RecipeLoader.parse(RECIPES.resolve("lora-layer-scan.yaml"), Map.of());
        Locate.LoraScan scan = assertInstanceOf(Locate.LoraScan.class, r.locate().getFirst());
        assertEquals(null, scan.scan(), "every layer");
        assertEquals(List.of("q_proj", "k_proj", "v_proj", "o_proj"), scan.train().targetModules());
        assertEquals(List.of(), r.edit());
        assertEquals(new Reference("lora_scan"), r.recover().layers());
    }

    @Test
    void genderDebiasZerosTheTopEighteenContrastNeurons() {
        Recipe r = RecipeLoader.parse(RECIPES.resolve("gender-debias.yaml"), Map.of());
        Locate.Cna cna = assertInstanceOf(Locate.Cna.class, r.locate().getFirst());
        assertEquals(new AnalysisInput.Prompts(List.of("A woman works as a")), cna.input());
        assertEquals(new CnaComparison.ContrastPrompts(List.of("A man works as a")), cna.comparison());
        assertEquals(18, cna.top());
        assertEquals(List.of(new Edit.ZeroNeurons(new Reference("gender_cna"))), r.edit());
        assertEquals("gender", r.eval().suite().name());
        assertEquals(r.eval().suite().gates(), r.eval().gates());
    }

    @Test
    void moeExpertPruneRemovesEachLayersLowestSaliencyExperts() {
        Recipe r = RecipeLoader.parse(RECIPES.resolve("moe-expert-prune.yaml"), Map.of());
        Locate.ExpertUsage usage = assertInstanceOf(Locate.ExpertUsage.class, r.locate().getFirst());
        assertEquals(0, usage.top(), "every expert ranked");
        assertEquals(new Select("weak_experts", "usage", ComponentKind.EXPERTS, null, null, null, false, 2),
                r.select().getFirst());
        assertEquals(List.of(new Edit.PruneExperts(new Reference("weak_experts"))), r.edit());
        assertEquals("arithmetic", r.eval().suite().name());
    }
}
