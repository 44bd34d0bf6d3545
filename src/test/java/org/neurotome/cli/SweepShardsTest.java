package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Manifest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A sweep over the shipped arithmetic head-ablation recipe with its head scan in 3 shards
 * ({@code shards: 3}), a grid of two values of {@code select.0.top}: each shard is a unit of its
 * own, computed once for both variants, and the scan's findings their merge, computed once; each
 * variant's model is what {@code apply --set} of the same recipe writes; a rerun runs nothing;
 * the units emitted for a batch scheduler, run one by one and collected, give the same rows.
 */
@Tag("slow")
class SweepShardsTest {
    static final String GRID = "select.0.top=1,2";

    @TempDir
    static Path tmp;
    static Path recipe;
    static CliRun first;
    static JsonNode sweep;

    @BeforeAll
    static void sweepOnce() throws IOException {
        String root = Path.of("").toAbsolutePath() + "/";
        String text = Files.readString(Path.of("recipes/arith-head-ablation.yaml")).replace("../", root);
        String top = "    top: 10              # keep the ten most damaging heads in findings.json\n";
        assertTrue(text.contains(top), "the shipped recipe's head scan keeps its top 10");
        recipe = tmp.resolve("arith-shards.yaml");
        Files.writeString(recipe, text.replace(top, top + "    shards: 3\n"));
        first = CliRun.of("sweep", recipe.toString(), "--grid", GRID, "--out", tmp.resolve("s").toString(),
                "--threads", "1", "--keep-all");
        sweep = Json.MAPPER.readTree(tmp.resolve("s/sweep.json").toFile());
    }

    @Test
    void eachShardRunsOnceAndTheVariantsAreApplysOutputs() throws IOException {
        JsonNode rows = sweep.get("rows");
        assertEquals(2, rows.size());
        boolean anyPassed = rows.get(0).get("passed").asBoolean() || rows.get(1).get("passed").asBoolean();
        assertEquals(anyPassed ? 0 : 1, first.code(), first.err());
        // two variants, the scan they share, its three shards and the baseline's eval they share
        assertEquals(7, sweep.at("/units/planned").asInt());
        assertEquals(7, sweep.at("/units/run").asInt());
        assertTrue(first.err().contains("7 units planned: 7 to run (1 shared analysis, 3 analysis shards, "
                + "1 baseline evaluation), 0 reused"), first.err());
        for (int i = 1; i <= 3; i++) {
            assertEquals(1, first.err().split("analysis shard " + i + " of 3 computed", -1).length - 1,
                    "shard " + i + " ran once: " + first.err());
        }
        assertEquals(1, first.err().split("shared ranking computed", -1).length - 1, "merged once: " + first.err());
        try (var dirs = Files.list(tmp.resolve("s/units"))) {
            assertEquals(3, dirs.filter(d -> Files.isRegularFile(d.resolve("shard.bin"))).count());
        }
        for (int v = 0; v < 2; v++) {
            String out = tmp.resolve("apply-" + v).toString();
            String set = "select.0.top=" + (v + 1);
            CliRun apply = CliRun.of("apply", recipe.toString(), "--set", set, "--out", out, "--threads", "1");
            assertEquals(rows.get(v).get("passed").asBoolean() ? 0 : 1, apply.code(), apply.err());
            assertEquals(Manifest.fingerprint(Path.of(out)), rows.get(v).get("model_sha256").asText(),
                    set + ": the variant is what apply --set writes");
            assertEquals(Files.readString(Path.of(out, "findings.json")), Files.readString(
                    tmp.resolve("s").resolve(rows.get(v).get("output").asText()).resolve("findings.json")),
                    set + ": the merged shards' findings are apply's");
        }
    }

    @Test
    void aRerunRunsNothing() {
        CliRun again = CliRun.of("sweep", recipe.toString(), "--grid", GRID, "--out", tmp.resolve("s").toString(),
                "--threads", "1", "--keep-all");
        assertTrue(again.err().contains("7 units planned: 0 to run, 7 reused; nothing to run"), again.err());
    }

    @Test
    void unitsRunOneByOneAndCollectedGiveTheSameRows() throws IOException {
        Path units = tmp.resolve("units.jsonl");
        String dir = tmp.resolve("batch").toString();
        CliRun emit = CliRun.of("sweep", recipe.toString(), "--grid", GRID, "--out", dir, "--threads", "1",
                "--emit-units", units.toString());
        assertEquals(0, emit.code(), emit.err());
        assertFalse(Files.exists(Path.of(dir, "sweep.json")), "emitting runs nothing");
        for (int i = 1; i >= 0; i--) {
            CliRun r = CliRun.of("run-unit", units.toString(), "--index", Integer.toString(i));
            assertEquals(0, r.code(), r.err());
        }
        CliRun collect = CliRun.of("sweep", recipe.toString(), "--grid", GRID, "--out", dir, "--threads", "1",
                "--collect", "--json", "--keep-all");
        assertFalse(collect.err().contains("error:"), collect.err());
        assertEquals(sweep.get("rows"), Json.MAPPER.readTree(collect.out()).get("rows"));
    }
}
