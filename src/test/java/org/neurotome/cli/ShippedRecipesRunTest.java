package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The three shipped recipes run on the committed fixtures and do what the paper's edits do:
 * zeroing the located arithmetic heads breaks arithmetic, keeping only the CNA neurons in the
 * deep layers keeps it, and zeroing the top-18 gender CNA neurons cuts the occupation bias
 * gap by at least 30 % while factual gender survives. On the Llama fixture the same edit only
 * flips the gaps' signs, and the release gate on the absolute gap catches it. Analyses and
 * eval sets are cut down with {@code --set}; gates are the recipes' and suites'. Each output's
 * model card names its base model in Hugging Face front matter, says every edit and what
 * located it, and carries the gate table.
 */
class ShippedRecipesRunTest {
    private static final Path QUICK = Path.of("src/test/resources/suites/quick").toAbsolutePath();

    @TempDir
    Path tmp;

    private JsonNode apply(String recipe, String... sets) throws Exception {
        return apply(0, recipe, sets);
    }

    /**
     * Checks the model card of the output of {@code recipe}: front matter parsed back as YAML,
     * one row per edit with its op and {@code locatedBy}, one row per gate with its verdict.
     */
    private void card(String recipe, String baseModel, String locatedBy, JsonNode report) throws Exception {
        Path out = tmp.resolve(recipe);
        String card = Files.readString(out.resolve("README.md"));
        assertTrue(card.startsWith("---\n"), card);
        JsonNode front = new ObjectMapper(new YAMLFactory()).readTree(card.substring(4, card.indexOf("\n---\n", 4)));
        assertEquals(baseModel, front.get("base_model").asText());
        assertEquals("transformers", front.get("library_name").asText());
        assertEquals("text-generation", front.get("pipeline_tag").asText());
        List<String> tags = new ArrayList<>();
        front.get("tags").forEach(t -> tags.add(t.asText()));
        assertTrue(tags.contains("neurotome"), tags.toString());
        JsonNode manifest = Json.MAPPER.readTree(out.resolve("manifest.json").toFile());
        int i = 0;
        for (JsonNode edit : manifest.get("edits")) {
            String row = "| " + ++i + " | " + edit.get("op").asText() + " | ";
            assertTrue(card.contains(row), row + " in\n" + card);
            assertTrue(tags.contains(edit.get("op").asText()), tags.toString());
        }
        assertTrue(card.contains(locatedBy), locatedBy + " in\n" + card);
        for (JsonNode gate : report.get("gates")) {
            String row = "| `" + gate.get("name").asText() + "` | ";
            int at = card.indexOf(row);
            assertTrue(at >= 0, row + " in\n" + card);
            String line = card.substring(at, card.indexOf('\n', at));
            assertTrue(line.endsWith(gate.get("passed").asBoolean() ? "| PASS |" : "| FAIL |"), line);
        }
        assertTrue(card.contains(report.get("passed").asBoolean() ? "**PASSED**" : "**FAILED**"), card);
    }

    private JsonNode apply(int exit, String recipe, String... sets) throws Exception {
        Path out = tmp.resolve(recipe);
        String[] args = new String[4 + 2 * sets.length];
        args[0] = "apply";
        args[1] = "recipes/" + recipe + ".yaml";
        args[2] = "--out";
        args[3] = out.toString();
        for (int i = 0; i < sets.length; i++) {
            args[4 + 2 * i] = "--set";
            args[5 + 2 * i] = sets[i];
        }
        PrintStream old = System.out;
        System.setOut(new PrintStream(new ByteArrayOutputStream()));
        try {
            assertEquals(exit, Main.execute(args), recipe + (exit == 0 ? ": every gate passes" : ": a gate fails"));
        } finally {
            System.setOut(old);
        }
        return Json.MAPPER.readTree(out.resolve("eval/report.json").toFile());
    }

    private static double metric(JsonNode report, String name) {
        return report.get("metrics").get(name).asDouble();
    }

    private static double baseline(JsonNode report, String name) {
        return report.get("baseline_metrics").get(name).asDouble();
    }

    @Test
    void arithmeticHeadAblationBreaksArithmetic() throws Exception {
        JsonNode r = apply("arith-head-ablation", "locate.0.limit=120", "eval.suite=" + QUICK.resolve("arithmetic.yaml"));
        assertTrue(metric(r, "arithmetic.accuracy") <= baseline(r, "arithmetic.accuracy") - 0.20, r.get("metrics").toString());
        card("arith-head-ablation", "fixture-llama",
                "| `arith_heads`: 2 heads selected from `arith_scan`: head-scan on 120 cases of arithmetic.jsonl, top 10 |", r);
    }

    @Test
    void arithmeticPruningKeepsArithmetic() throws Exception {
        JsonNode r = apply("arith-prune", "locate.0.limit=120", "locate.1.limit=40",
                "eval.suite=" + QUICK.resolve("arithmetic.yaml"));
        assertTrue(metric(r, "arithmetic.accuracy") >= baseline(r, "arithmetic.accuracy") - 0.10);
        card("arith-prune", "fixture-llama", "neurons selected from `arith_cna`: cna on 40 cases of arithmetic.jsonl"
                + " against heads ${arith_head} ablated, top 50 |", r);
    }

    @Test
    void genderDebiasingCutsTheBiasGapAndKeepsFactualGender() throws Exception {
        JsonNode r = apply("gender-debias", "eval.suite=" + QUICK.resolve("gender.yaml"));
        assertTrue(metric(r, "gender.bias_gap") <= 0.7 * baseline(r, "gender.bias_gap"));
        assertEquals(baseline(r, "factual.accuracy"), metric(r, "factual.accuracy"), 0.02);
        card("gender-debias", "fixture-gpt2", "| 1 | zero-neurons | 18 FFN neurons zeroed: layer ", r);
        card("gender-debias", "fixture-gpt2", "| `gender_cna`: cna on 1 prompt \"A woman works as a\" against the contrast"
                + " prompt \"A man works as a\", top 18 |", r);
    }

    @Test
    void theAbsoluteGapGateCatchesADebiasingThatOnlyFlipsTheBias() throws Exception {
        JsonNode r = apply(1, "gender-debias", "model.path=../checkpoints/fixture-llama",
                "eval.suite=" + QUICK.resolve("gender.yaml"));
        for (JsonNode g : r.get("gates")) {
            boolean absGate = g.get("name").asText().startsWith("gender.abs_bias_gap");
            assertEquals(!absGate, g.get("passed").asBoolean(), g.toString());
        }
        assertTrue(metric(r, "gender.bias_gap.woman") < 0, "woman-biased professions now favour men");
        card("gender-debias", "fixture-llama", "located by", r);
    }
}
