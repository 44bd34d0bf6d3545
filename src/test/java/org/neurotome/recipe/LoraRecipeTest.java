package org.neurotome.recipe;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.LayerRange;
import org.neurotome.model.MemoryBudget;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The LoRA parts of the recipe schema: {@code merge-lora}, CNA {@code against_adapter}, the
 * {@code lora-scan} method and the {@code recover} stage bind to their records with defaults
 * filled in, {@code ${id}} of a lora-scan stands for its best layer, and mistakes are BAD_INPUT
 * errors at their position; {@code --dry-run} plans the LoRA stages and lists the tensors a
 * merge changes.
 */
class LoraRecipeTest {
    @TempDir
    Path tmp;

    private static final String HEADER = """
            model:
              path: %s
            """.formatted(Path.of("checkpoints/fixture-llama").toAbsolutePath());

    private Path write(String body) throws IOException {
        Path f = tmp.resolve("r" + System.nanoTime() + ".yaml");
        Files.writeString(f, HEADER + body + """
                output:
                  dir: out
                """);
        return f;
    }

    private static String error(Path f) {
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> RecipeLoader.parse(f, Map.of()));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode(), e.getMessage());
        return e.getMessage();
    }

    @Test
    void theLoraStagesBindWithTheirDefaults() throws IOException {
        Path f = write("""
                locate:
                  - id: scan
                    method: lora-scan
                    prompts: ["3+5="]
                    scan: 1-2
                    train: {corpus: arithmetic, target_modules: [q_proj, v_proj], steps: 20}
                    score: {dataset: data.jsonl, where: {digits: 2}, limit: 30}
                  - id: vs
                    method: cna
                    prompts: ["3+5="]
                    against_adapter: adapter
                edit:
                  - op: merge-lora
                    adapter: adapter
                    scale: 0.5
                recover:
                  dataset: data.jsonl
                  where: {operation: "*"}
                  layers: ${scan}
                  rslora: true
                """);
        Recipe r = RecipeLoader.parse(f, Map.of());
        Locate.LoraScan scan = assertInstanceOf(Locate.LoraScan.class, r.locate().getFirst());
        assertEquals(new LayerRange(1, 2), scan.scan());
        assertEquals("arithmetic", scan.train().corpus());
        assertEquals(List.of("q_proj", "v_proj"), scan.train().targetModules());
        assertEquals(20, scan.train().steps());
        assertEquals(8, scan.train().rank());
        assertEquals(16.0, scan.train().alpha());
        assertEquals(2, scan.train().warmup(), "a tenth of the steps");
        assertEquals(tmp.resolve("data.jsonl"), scan.score().dataset());
        assertEquals(30, scan.score().limit());
        Locate.Cna cna = assertInstanceOf(Locate.Cna.class, r.locate().get(1));
        assertEquals(new CnaComparison.WithAdapter(tmp.resolve("adapter")), cna.comparison());
        assertEquals(List.of(new Edit.MergeLora(tmp.resolve("adapter"), 0.5)), r.edit());
        assertEquals(new Reference("scan"), r.recover().layers());
        assertTrue(r.recover().rslora());
        assertNull(r.recover().targetModules(), "the family's query and value projections");
        assertEquals(200, r.recover().steps());
        assertEquals(1e-3, r.recover().lr());
    }

    @Test
    void aRecoverStageMayStandInForEdits() throws IOException {
        Recipe r = RecipeLoader.parse(write("recover: {corpus: standard, layers: 2}\n"), Map.of());
        assertEquals(List.of(), r.edit());
        assertEquals(new LayerSource.Range(new LayerRange(2, 2)), r.recover().layers());
        assertTrue(error(write("")).contains("missing required key 'edit' (a list of one or more edits (or a recover stage))"));
    }

    @Test
    void mistakesAreReportedWhereTheyAre() throws IOException {
        String wrongKind = error(write("""
                locate:
                  - {id: heads, method: head-scan, prompts: ["3+5="]}
                edit:
                  - {op: zero-heads, heads: "${heads}"}
                recover: {corpus: arithmetic, layers: "${heads}"}
                """));
        assertTrue(wrongKind.contains("reference of the wrong kind at recover.layers; got '${heads}' (locate.0 is not a "
                + "lora-scan"), wrongKind);
        String scanLayers = error(write("""
                locate:
                  - id: s
                    method: lora-scan
                    prompts: ["3+5="]
                    train: {corpus: arithmetic, layers: 2}
                    score: {dataset: data.jsonl}
                recover: {corpus: arithmetic}
                """));
        assertTrue(scanLayers.contains("a lora-scan chooses each LoRA's layer itself at locate.0.train.layers"), scanLayers);
        String both = error(write("recover: {corpus: arithmetic, dataset: data.jsonl}\n"));
        assertTrue(both.contains("conflicting training data at recover.dataset"), both);
        String corpus = error(write("recover: {corpus: arithmetics}\n"));
        assertTrue(corpus.contains("unknown corpus at recover.corpus; got 'arithmetics'; allowed: standard, arithmetic; "
                + "did you mean 'arithmetic'?"), corpus);
        String rank = error(write("recover: {corpus: arithmetic, rank: 0}\n"));
        assertTrue(rank.contains("invalid value at recover.rank; got 0; allowed: a whole number >= 1"), rank);
        String noAdapter = error(write("edit:\n  - {op: merge-lora, scale: 2}\n"));
        assertTrue(noAdapter.contains("missing required key 'adapter'"), noAdapter);
        String twoComparisons = error(write("""
                locate:
                  - {id: c, method: cna, prompts: ["3+5="], against: other, against_adapter: adapter}
                recover: {corpus: arithmetic}
                """));
        assertTrue(twoComparisons.contains("conflicting comparisons"), twoComparisons);
        assertTrue(twoComparisons.contains("allowed: one of ablate, against, against_adapter, contrast"), twoComparisons);
    }

    @Test
    void aMissingAdapterDirectoryIsFoundWhenTheRecipeIsLoaded() throws IOException {
        Path f = write("edit:\n  - {op: merge-lora, adapter: no-such-adapter}\n");
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> RecipeLoader.load(f, Map.of()));
        assertTrue(e.getMessage().contains("edit.0.adapter"), e.getMessage());
        assertTrue(e.getMessage().contains("no-such-adapter"), e.getMessage());
    }

    @Test
    void theDryRunPlansTheLoraStages() throws IOException {
        Path adapter = Path.of("src/test/resources/lora/llama_sharded_f16/adapter").toAbsolutePath();
        Path model = Path.of("src/test/resources/reference/llama_sharded_f16").toAbsolutePath();
        Path f = tmp.resolve("merge.yaml");
        Files.writeString(f, """
                model: {path: %s}
                edit:
                  - {op: merge-lora, adapter: %s}
                output: {dir: out}
                """.formatted(model, adapter));
        String plan = Planner.plan(f, RecipeLoader.load(f, Map.of()), false, MemoryBudget.unlimited()).text();
        assertTrue(plan.contains("edit     add lora model.layers.0.self_attn.q_proj, rank 2, scale 2.0 to "
                + "model.layers.0.self_attn.q_proj.weight"), plan);
        assertEquals(14, plan.lines().filter(l -> l.startsWith("edit     add lora")).count(), "7 projections × 2 layers");

        String recover = Planner.plan(Path.of("recipes/arith-prune-recover.yaml"),
                RecipeLoader.load(Path.of("recipes/arith-prune-recover.yaml"), Map.of()), false,
                MemoryBudget.unlimited()).text();
        assertTrue(recover.contains("locate   lora_cna: lora-scan on 152 cases"), recover);
        assertTrue(recover.contains("recover  LoRA r 8, alpha 16.0 on q_proj, k_proj, v_proj, o_proj, layers ${lora_cna}: "
                + "300 steps of 32 rows from the arithmetic corpus; merged into the output, the adapter in adapter/"), recover);
        assertTrue(recover.contains("the edited model too, before recovery"), recover);
    }
}
