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
 * A sweep over the shipped §5 recipe ({@code recipes/lora-layer-scan.yaml}, cut down to 10
 * training steps) with its lora-scan in 2 shards ({@code shards: 2}), a grid of two values of
 * {@code recover.steps}: each shard is a unit of its own, computed once for both variants, which
 * each merge the shards and compare the model with the best layer's LoRA themselves; each
 * variant's model and findings are what {@code apply --set} of the same recipe writes; a rerun
 * runs nothing; the units emitted for a batch scheduler, run one by one and collected, give the
 * same rows.
 */
@Tag("slow")
class SweepLoraShardsTest {
    static final String GRID = "recover.steps=5,10";

    @TempDir
    static Path tmp;
    static Path recipe;
    static CliRun first;
    static JsonNode sweep;

    private static String replace(String text, String from, String to) {
        assertTrue(text.contains(from), "the shipped recipe has " + from);
        return text.replace(from, to);
    }

    @BeforeAll
    static void sweepOnce() throws IOException {
        String root = Path.of("").toAbsolutePath() + "/";
        String text = Files.readString(Path.of("recipes/lora-layer-scan.yaml")).replace("../", root);
        text = replace(text, "    top: 50\n", "    top: 50\n    limit: 6\n    shards: 2\n");
        text = replace(text, "      steps: 300\n      batch_size: 32\n", "      steps: 10\n      batch_size: 8\n");
        text = replace(text, "      where: {digits: 2}\n", "      where: {digits: 2}\n      limit: 12\n");
        text = replace(text, "  batch_size: 32\n", "  batch_size: 8\n");
        text = replace(text, root + "eval/suites/arithmetic.yaml",
                Path.of("src/test/resources/suites/quick/arithmetic.yaml").toAbsolutePath().toString());
        recipe = tmp.resolve("lora-shards.yaml");
        Files.writeString(recipe, text);
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
        // two variants, the scan's two shards and the baseline's eval they share; the scan's findings are each variant's
        assertEquals(5, sweep.at("/units/planned").asInt());
        assertEquals(5, sweep.at("/units/run").asInt());
        assertTrue(first.err().contains("5 units planned: 5 to run (2 analysis shards, 1 baseline evaluation), "
                + "0 reused"), first.err());
        for (int i = 1; i <= 2; i++) {
            assertEquals(1, first.err().split("analysis shard " + i + " of 2 computed", -1).length - 1,
                    "shard " + i + " ran once: " + first.err());
        }
        try (var dirs = Files.list(tmp.resolve("s/units"))) {
            assertEquals(2, dirs.filter(d -> Files.isRegularFile(d.resolve("shard.bin"))).count());
        }
        for (int v = 0; v < 2; v++) {
            String out = tmp.resolve("apply-" + v).toString();
            String set = "recover.steps=" + (5 * (v + 1));
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
        assertTrue(again.err().contains("5 units planned: 0 to run, 5 reused; nothing to run"), again.err());
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
            if (i == 0) {
                assertTrue(r.err().contains("analysis shard 1 of 2 read from units/"), "the second unit reads the "
                        + "shards the first computed: " + r.err());
            }
        }
        CliRun collect = CliRun.of("sweep", recipe.toString(), "--grid", GRID, "--out", dir, "--threads", "1",
                "--collect", "--json", "--keep-all");
        assertFalse(collect.err().contains("error:"), collect.err());
        assertEquals(sweep.get("rows"), Json.MAPPER.readTree(collect.out()).get("rows"));
    }
}
