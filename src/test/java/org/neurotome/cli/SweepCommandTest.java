package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Manifest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neurotome sweep} over the shipped gender recipe on the GPT-2 fixture, a grid of two
 * values of {@code locate.0.top}: the variants are exactly {@code apply --set} of each value (the
 * same model SHA-256, their eval reports and findings included, though the unedited model is
 * evaluated once for both and the CNA once for the larger top), the best one is the one that
 * passes every gate, only its checkpoint is kept, a rerun runs nothing, a unit whose result.json
 * is cut short runs again, and the units emitted for a batch scheduler, run one by one and
 * collected, give the same rows.
 */
class SweepCommandTest {
    static final String RECIPE = "recipes/gender-debias.yaml";
    static final String GRID = "locate.0.top=12,18";

    @TempDir
    static Path tmp;
    static CliRun first;
    static JsonNode sweep;

    @BeforeAll
    static void sweepOnce() throws IOException {
        first = CliRun.of("sweep", RECIPE, "--grid", GRID, "--out", tmp.resolve("s").toString(), "--threads", "1");
        sweep = Json.MAPPER.readTree(tmp.resolve("s/sweep.json").toFile());
    }

    @Test
    void theBestVariantIsApplysOutputAndTheOnlyOneKept() throws IOException {
        assertEquals(0, first.code(), first.err());
        JsonNode rows = sweep.get("rows");
        assertEquals(2, rows.size());
        assertEquals("12", rows.get(0).at("/overrides/locate.0.top").asText());
        assertEquals("18", rows.get(1).at("/overrides/locate.0.top").asText());
        // the top 12 neurons narrow the gap by less than the gate's 30 %; the top 18 pass (README)
        assertFalse(rows.get(0).get("passed").asBoolean());
        assertTrue(rows.get(1).get("passed").asBoolean());
        assertEquals(1, sweep.at("/best/variant").asInt());
        assertEquals("gender.bias_gap.rel_change", sweep.at("/objective/metric").asText(), "the first gate's quantity");
        assertEquals(rows.get(1).at("/comparison/gender.bias_gap.rel_change").asDouble(),
                sweep.at("/best/objective").asDouble());
        // two variants, the CNA they share (computed once, with the larger top) and the baseline's eval they share
        assertEquals(4, sweep.at("/units/planned").asInt());
        assertEquals(4, sweep.at("/units/run").asInt());
        assertEquals(0, sweep.at("/units/reused").asInt());
        assertEquals(1, first.err().split("shared ranking computed", -1).length - 1, "the CNA ran once: " + first.err());
        assertEquals(1, first.err().split("shared ranking read", -1).length - 1, first.err());
        assertTrue(first.err().contains("4 units planned: 4 to run (1 shared analysis, 1 baseline evaluation), 0 reused"),
                first.err());
        assertEquals(1, first.err().split("baseline scores computed", -1).length - 1, "the input evaluated once: "
                + first.err());
        assertEquals(1, first.err().split("baseline scores read", -1).length - 1, first.err());
        try (var dirs = Files.list(tmp.resolve("s/units"))) {
            assertEquals(1, dirs.filter(d -> Files.isRegularFile(d.resolve("findings.json"))).count());
        }
        try (var dirs = Files.list(tmp.resolve("s/units"))) {
            assertEquals(1, dirs.filter(d -> Files.isRegularFile(d.resolve("baseline.json"))).count());
        }
        Path best = tmp.resolve("s").resolve(rows.get(1).get("output").asText());
        assertTrue(Files.isDirectory(best));
        assertFalse(Files.exists(tmp.resolve("s").resolve(rows.get(0).get("output").asText())), "only the best is kept");

        String out = tmp.resolve("apply").toString();
        assertEquals(0, Main.execute("apply", RECIPE, "--set", "locate.0.top=18", "--out", out, "--threads", "1"));
        assertEquals(Manifest.fingerprint(Path.of(out)), rows.get(1).get("model_sha256").asText(),
                "the variant is what apply --set writes");
        // the replayed baseline scores every case as apply's eval, which opened the input, scored it
        JsonNode applied = Json.MAPPER.readTree(Path.of(out, "eval/report.json").toFile());
        JsonNode swept = Json.MAPPER.readTree(best.resolve("eval/report.json").toFile());
        ((ObjectNode) applied.get("model")).remove("name");
        ((ObjectNode) swept.get("model")).remove("name");
        assertTrue(swept.get("cases").elements().next().at("/0/baseline/logprobs").isArray(),
                "the report holds the baseline's case scores");
        assertEquals(applied, swept, "the eval report is apply's but for the output's name");

        // the smaller top cuts the ranking computed for 18, and its findings record its own top
        String out12 = tmp.resolve("apply-12").toString();
        assertEquals(1, Main.execute("apply", RECIPE, "--set", "locate.0.top=12", "--out", out12, "--threads", "1"),
                "top 12 fails a gate");
        assertEquals(Manifest.fingerprint(Path.of(out12)), rows.get(0).get("model_sha256").asText(),
                "the variant with the smaller top is what apply --set writes");
    }

    @Test
    void aRerunRunsNothingAndSaysSo() throws IOException {
        CliRun again = CliRun.of("sweep", RECIPE, "--grid", GRID, "--out", tmp.resolve("s").toString(), "--threads", "1",
                "--json");
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("4 units planned: 0 to run, 4 reused; nothing to run"), again.err());
        JsonNode doc = Json.MAPPER.readTree(again.out());
        assertEquals(0, doc.at("/units/run").asInt());
        assertEquals(4, doc.at("/units/reused").asInt());
        assertEquals(sweep.get("rows"), doc.get("rows"));
    }

    @Test
    void aHalfWrittenResultIsNotTakenAsDoneAndItsUnitRunsAgain() throws IOException {
        Path copy = tmp.resolve("half");
        try (var files = Files.walk(tmp.resolve("s"))) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(tmp.resolve("s").relativize(f).toString()));
            }
        }
        // what a worker dying mid-write on a file system without atomic renames would leave
        Path result = copy.resolve("units").resolve(sweep.at("/rows/0/key").asText()).resolve("result.json");
        byte[] whole = Files.readAllBytes(result);
        Files.write(result, java.util.Arrays.copyOf(whole, whole.length / 2));
        CliRun again = CliRun.of("sweep", RECIPE, "--grid", GRID, "--out", copy.toString(), "--threads", "1", "--json");
        assertEquals(0, again.code(), again.err());
        JsonNode doc = Json.MAPPER.readTree(again.out());
        assertEquals(1, doc.at("/units/run").asInt(), "the variant with the cut result: " + again.err());
        assertEquals(3, doc.at("/units/reused").asInt());
        assertEquals(sweep.get("rows"), doc.get("rows"));
    }

    @Test
    void unitsRunOneByOneAndCollectedGiveTheSameRows() throws IOException {
        Path units = tmp.resolve("units.jsonl");
        String dir = tmp.resolve("batch").toString();
        CliRun emit = CliRun.of("sweep", RECIPE, "--grid", GRID, "--out", dir, "--threads", "1", "--emit-units",
                units.toString());
        assertEquals(0, emit.code(), emit.err());
        assertEquals(2, Files.readAllLines(units).size());
        assertFalse(Files.exists(Path.of(dir, "sweep.json")), "emitting runs nothing");
        CliRun early = CliRun.of("sweep", RECIPE, "--grid", GRID, "--out", dir, "--threads", "1", "--collect");
        assertEquals(2, early.code());
        assertTrue(early.err().contains("2 of 2 units have not run"), early.err());
        for (int i = 1; i >= 0; i--) {
            CliRun r = CliRun.of("run-unit", units.toString(), "--index", Integer.toString(i));
            assertEquals(0, r.code(), r.err());
        }
        assertTrue(CliRun.of("run-unit", units.toString(), "--index", "0").out().contains("nothing to run"));
        CliRun bad = CliRun.of("run-unit", units.toString(), "--index", "2");
        assertEquals(2, bad.code());
        assertEquals("error: --index 2: " + units + " holds 2 units; allowed: 0 to 1", bad.err().strip());
        CliRun collect = CliRun.of("sweep", RECIPE, "--grid", GRID, "--out", dir, "--threads", "1", "--collect",
                "--json");
        assertEquals(0, collect.code(), collect.err());
        assertEquals(sweep.get("rows"), Json.MAPPER.readTree(collect.out()).get("rows"));
    }

    @Test
    void aGridKeyThatIsNoRecipeKeyIsOneLineWithTheClosestKey() {
        CliRun r = CliRun.of("sweep", RECIPE, "--grid", "locate.0.tpo=6,12", "--out", tmp.resolve("bad").toString());
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: " + RECIPE + ": --grid locate.0.tpo=6: unknown key in locate.0"), r.err());
        assertTrue(r.err().contains("did you mean 'top'?"), r.err());
        assertFalse(Files.exists(tmp.resolve("bad")), "nothing written");
    }

    @Test
    void theReportShowsTheTableAndTheObjectiveAgainstEachGate() throws IOException {
        String html = Files.readString(tmp.resolve("s/sweep.html"));
        assertTrue(html.contains("best: variant 1 (locate.0.top=18)"), "verdict");
        assertTrue(html.contains("<td>1 (best)</td>"), "the best row marked");
        List<String> gates = List.of("language.perplexity.rel_change &lt;= 0.02", "factual.accuracy.delta &gt;= -0.02");
        for (String g : gates) {
            assertTrue(html.contains("<svg") && html.contains("gender.bias_gap.rel_change against " + g), g);
        }
        assertTrue(html.contains(">best: variant 1</text>"), "the best point labelled");
    }
}
