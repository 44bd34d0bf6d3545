package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The three shipped recipes run on the committed fixtures and do what the paper's edits do:
 * zeroing the located arithmetic heads breaks arithmetic, keeping only the CNA neurons in the
 * deep layers keeps it, and zeroing the top-18 gender CNA neurons cuts the occupation bias
 * gap by at least 30 % while factual gender survives. On the Llama fixture the same edit only
 * flips the gaps' signs, and the release gate on the absolute gap catches it. Analyses and
 * eval sets are cut down with {@code --set}; gates are the recipes' and suites'.
 */
class ShippedRecipesRunTest {
    private static final Path QUICK = Path.of("src/test/resources/suites/quick").toAbsolutePath();

    @TempDir
    Path tmp;

    private JsonNode apply(String recipe, String... sets) throws Exception {
        return apply(0, recipe, sets);
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
    }

    @Test
    void arithmeticPruningKeepsArithmetic() throws Exception {
        JsonNode r = apply("arith-prune", "locate.0.limit=120", "locate.1.limit=40",
                "eval.suite=" + QUICK.resolve("arithmetic.yaml"));
        assertTrue(metric(r, "arithmetic.accuracy") >= baseline(r, "arithmetic.accuracy") - 0.10);
    }

    @Test
    void genderDebiasingCutsTheBiasGapAndKeepsFactualGender() throws Exception {
        JsonNode r = apply("gender-debias", "eval.suite=" + QUICK.resolve("gender.yaml"));
        assertTrue(metric(r, "gender.bias_gap") <= 0.7 * baseline(r, "gender.bias_gap"));
        assertEquals(baseline(r, "factual.accuracy"), metric(r, "factual.accuracy"), 0.02);
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
    }
}
