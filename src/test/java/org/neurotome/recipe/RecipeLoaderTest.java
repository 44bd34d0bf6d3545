package org.neurotome.recipe;

import org.neurotome.arch.Head;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.LayerRange;

import org.junit.jupiter.api.Test;
import org.neurotome.eval.Gate;
import org.neurotome.eval.TaskKind;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecipeLoaderTest {
    static final Path RECIPES = Path.of("src/test/resources/recipes");
    static final Path RESOURCES = Path.of("src/test/resources");

    @Test
    void fullRecipeBindsModelAndOutput() {
        Recipe r = RecipeLoader.load(RECIPES.resolve("full.yaml"), Map.of());
        assertEquals("every stage, method and op", r.description());
        assertEquals(RESOURCES.resolve("reference/stories260K"), r.model().path());
        assertEquals(Device.CPU, r.model().device());
        assertEquals(RESOURCES.resolve("out/full"), r.output().dir());
        assertEquals(OutputDtype.F16, r.output().dtype());
        assertEquals(2_000_000_000L, r.output().maxShardSize().bytes());
    }

    @Test
    void fullRecipeBindsEachLocateMethodAndInputForm() {
        List<Locate> locate = RecipeLoader.load(RECIPES.resolve("full.yaml"), Map.of()).locate();
        assertEquals(6, locate.size());

        Locate.HeadScan scan = assertInstanceOf(Locate.HeadScan.class, locate.get(0));
        assertEquals("head-scan", scan.method());
        AnalysisInput.DatasetCases cases = assertInstanceOf(AnalysisInput.DatasetCases.class, scan.input());
        assertEquals(RESOURCES.resolve("datasets/arithmetic-mini.jsonl"), cases.dataset());
        assertEquals(50, cases.limit());
        assertTrue(cases.where().matches(Map.of("operation", "+", "template", "3", "digits", "1")));
        assertTrue(!cases.where().matches(Map.of("operation", "-", "template", "3")));
        assertEquals(4, scan.top());
        assertEquals(List.of(), scan.target());

        Locate.Attribution attr = assertInstanceOf(Locate.Attribution.class, locate.get(1));
        assertEquals(new AnalysisInput.Prompts(List.of("3+5=")), attr.input());
        assertEquals(List.of("8"), attr.target());
        assertEquals(new LayerRange(2, null), attr.layers());
        assertEquals(Locate.DEFAULT_TOP, attr.top());
        assertEquals(Set.of(ComponentKind.HEADS, ComponentKind.NEURONS), attr.yields());

        Locate.Cna ablated = assertInstanceOf(Locate.Cna.class, locate.get(2));
        assertEquals(new CnaComparison.AblatedHeads(new Reference("scan")), ablated.comparison());

        Locate.Cna contrast = assertInstanceOf(Locate.Cna.class, locate.get(3));
        assertEquals(new CnaComparison.ContrastPrompts(List.of("A man works as a", "The man is employed as a")),
                contrast.comparison());
        assertEquals(List.of(" nurse", " maid"), contrast.target());

        Locate.Cna against = assertInstanceOf(Locate.Cna.class, locate.get(4));
        assertEquals(new AnalysisInput.TokenIds(List.of(List.of(1, 5, 9))), against.input());
        assertEquals(new CnaComparison.OtherCheckpoint(RESOURCES.resolve("reference/stories260K")),
                against.comparison());

        Locate.FindingsFile saved = assertInstanceOf(Locate.FindingsFile.class, locate.get(5));
        assertEquals(RESOURCES.resolve("findings/saved.json"), saved.from());
    }

    @Test
    void fullRecipeInfersSelectKindsFromTheirLocateStep() {
        List<Select> select = RecipeLoader.load(RECIPES.resolve("full.yaml"), Map.of()).select();
        assertEquals(new Select("arith_heads", "scan", ComponentKind.HEADS, 2, null, null, false, null), select.get(0));
        assertEquals(new Select("deep_neurons", "arith_cna", ComponentKind.NEURONS, 50, null,
                new LayerRange(17, 31), true, null), select.get(1));
        assertEquals(new Select("attr_heads", "attr", ComponentKind.HEADS, null, 0.1, null, false, null), select.get(2));
        assertEquals(ComponentKind.NEURONS, select.get(3).kind());
    }

    @Test
    void fullRecipeBindsEveryEditOpWithItsOwnParameters() {
        List<Edit> edit = RecipeLoader.load(RECIPES.resolve("full.yaml"), Map.of()).edit();
        assertEquals(List.of("zero-heads", "keep-heads", "zero-neurons", "scale-neurons", "keep-neurons", "compact"),
                edit.stream().map(Edit::op).toList());
        assertEquals(new Edit.ZeroHeads(new Reference("arith_heads")), edit.get(0));
        // 17.20 is head 20: the written digits count, not the float value
        assertEquals(new Edit.KeepHeads(new HeadSet.Listed(List.of(new Head(17, 20), new Head(14, 19))),
                new LayerRange(10, 20)), edit.get(1));
        assertEquals(new Edit.ZeroNeurons(new Reference("gender_neurons")), edit.get(2));
        assertEquals(new Edit.ScaleNeurons(new NeuronSet.Listed(List.of(new Neuron(22, 2651),
                new Neuron(19, 8436))), 0.5), edit.get(3));
        assertEquals(new Edit.KeepNeurons(new Reference("deep_neurons"), new LayerRange(17, null)), edit.get(4));
        assertEquals(new Edit.Compact(List.of(ComponentKind.NEURONS), true), edit.get(5));
    }

    @Test
    void fullRecipeLoadsItsSuiteAndReplacesItsGates() {
        EvalStage eval = RecipeLoader.load(RECIPES.resolve("full.yaml"), Map.of()).eval();
        assertEquals("full", eval.suite().name());
        assertEquals(List.of(TaskKind.ARITHMETIC, TaskKind.GENDER),
                eval.suite().tasks().stream().map(t -> t.kind()).toList());
        assertEquals(6, eval.suite().gates().size());
        assertEquals(List.of(Gate.parse("arithmetic.accuracy.delta >= -0.02")), eval.gates());
    }

    @Test
    void minimalRecipeGetsDefaults() {
        Recipe r = RecipeLoader.load(RECIPES.resolve("minimal.yaml"), Map.of());
        assertEquals(Device.AUTO, r.model().device());
        assertEquals(List.of(), r.locate());
        assertEquals(List.of(), r.select());
        assertEquals(OutputDtype.KEEP, r.output().dtype());
        assertNull(r.output().maxShardSize());
        assertNull(r.eval());
        assertNull(r.description());
        assertEquals(new Edit.ZeroHeads(new HeadSet.Listed(List.of(new Head(0, 1)))), r.edit().getFirst());
    }

    @Test
    void overridesSetExistingAndDefaultedKeysByIndexOrId() {
        Map<String, String> set = new LinkedHashMap<>();
        set.put("output.dir", "../out/other");
        set.put("output.dtype", "BF16");
        set.put("locate.0.top", "5");
        set.put("locate.gender_cna.top", "12");
        set.put("edit.3.factor", "0.25");
        set.put("edit.1.heads", "[13.1, 12.10]");
        set.put("model.device", "gpu");
        Recipe r = RecipeLoader.load(RECIPES.resolve("full.yaml"), set);
        assertEquals(RESOURCES.resolve("out/other"), r.output().dir());
        assertEquals(OutputDtype.BF16, r.output().dtype());
        assertEquals(5, ((Locate.HeadScan) r.locate().get(0)).top());
        assertEquals(12, ((Locate.Cna) r.locate().get(3)).top());
        assertEquals(0.25, ((Edit.ScaleNeurons) r.edit().get(3)).factor());
        assertEquals(new HeadSet.Listed(List.of(new Head(13, 1), new Head(12, 10))),
                ((Edit.KeepHeads) r.edit().get(1)).heads());
        assertEquals(Device.GPU, r.model().device());
    }

    @Test
    void overrideCanAddASectionTheFileLeavesOut() {
        Recipe r = RecipeLoader.load(RECIPES.resolve("minimal.yaml"),
                Map.of("eval.suite", "../suites/full.yaml", "output.max_shard_size", "500MiB"));
        assertEquals("full", r.eval().suite().name());
        assertEquals(500L << 20, r.output().maxShardSize().bytes());
    }

    @Test
    void parseDoesNotRequireModelOrDataFiles() {
        Recipe r = RecipeLoader.parse(RECIPES.resolve("minimal.yaml"),
                Map.of("model.path", "../no-such-checkpoint"));
        assertEquals(RESOURCES.resolve("no-such-checkpoint"), r.model().path());
    }
}
