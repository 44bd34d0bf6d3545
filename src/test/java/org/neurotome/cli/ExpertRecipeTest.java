package org.neurotome.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.model.ReferenceData;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The expert edits as a recipe writes them: {@code --dry-run} shows the ops and refuses a
 * plan config.json cannot express before anything runs; {@code apply} writes the pruned model;
 * an expert the model lacks is a recipe error naming the key.
 */
class ExpertRecipeTest {
    @TempDir
    Path tmp;

    private Path recipe(String experts) throws Exception {
        Path r = tmp.resolve("moe.yaml");
        Files.writeString(r, """
                model:
                  path: %s
                  device: cpu
                edit:
                  - op: zero-experts
                    experts: [{layer: 0, expert: 3}]
                  - op: prune-experts
                    experts: %s
                output:
                  dir: out
                """.formatted(ReferenceData.caseDir("qwen3_moe").toAbsolutePath(), experts));
        return r;
    }

    @Test
    void theDryRunShowsTheExpertOpsAndApplyWritesThePrunedModel() throws Exception {
        Path r = recipe("[{layer: 0, expert: 0}, 1.1, [2, 1]]");
        String dry = CliRun.stdout(0, "apply", r.toString(), "--dry-run");
        assertTrue(dry.contains("edit     drop model.layers.0.mlp.experts.0.up_proj.weight\n")
                && dry.contains("edit     rename model.layers.2.mlp.experts.3.down_proj.weight to"
                + " model.layers.2.mlp.experts.2.down_proj.weight\n")
                && dry.contains("edit     keep rows 0,2-3 of model.layers.1.mlp.gate.weight (3)")
                && dry.contains("edit     scale rows 0-15 of model.layers.0.mlp.experts.3.gate_proj.weight (16)")
                && dry.contains("\"num_experts\":3"), dry);
        CliRun.stdout(0, "apply", r.toString());
        Path out = tmp.resolve("out");
        assertEquals(Json.MAPPER.readTree(ReferenceData.caseDir("qwen3_moe").resolve("pruned/config.json").toFile()),
                Json.MAPPER.readTree(out.resolve("config.json").toFile()));
        String manifest = Files.readString(out.resolve("manifest.json"));
        assertTrue(manifest.contains("\"op\" : \"prune-experts\"") && manifest.contains("\"kind\" : \"rename\""), manifest);
        Path small = tmp.resolve("small");
        CliRun.stdout(0, "apply", r.toString(), "--out", small.toString(), "--max-memory", "1m");
        for (String f : new String[] {"model.safetensors", "config.json"}) {
            assertArrayEquals(Files.readAllBytes(out.resolve(f)), Files.readAllBytes(small.resolve(f)),
                    f + ": the same bytes under --max-memory 1m");
        }
    }

    @Test
    void aPlanConfigJsonCannotExpressIsRefusedByTheDryRun() throws Exception {
        CliRun dry = CliRun.of("apply", recipe("[0.0, 0.1, 1.1, 2.1]").toString(), "--dry-run");
        assertEquals(2, dry.code(), dry.err());
        assertTrue(dry.err().contains("removes 2 expert(s) from layer 0 but 1 from layer 1"), dry.err());
        assertFalse(dry.err().contains("Exception"), dry.err());
        assertFalse(Files.exists(tmp.resolve("out")));

        CliRun bad = CliRun.of("apply", recipe("[{layer: 0, expert: 4}]").toString(), "--dry-run");
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().contains("edit.1.experts.0") && bad.err().contains("no such expert")
                && bad.err().contains("experts 0-3"), bad.err());
    }
}
