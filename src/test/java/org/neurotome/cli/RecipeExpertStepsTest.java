package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.model.Residency;
import org.neurotome.model.ReferenceData;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A recipe's {@code expert-scan}, {@code expert-attribution} and {@code expert-usage} locate
 * steps on the Qwen3-MoE reference case: the output's findings.json holds each step's experts,
 * which agree with the reference; a select of a top over an expert step's ranking is refused
 * before anything runs;
 * the dry run states what a forward of a sparse layer reads, kept and streamed.
 */
class RecipeExpertStepsTest {
    private static final String CASE = "qwen3_moe";

    @TempDir
    Path tmp;

    private Path recipe(String select) throws Exception {
        JsonNode prompts = ReferenceData.expected(CASE).path("prompts");
        Path file = tmp.resolve("recipe.yaml");
        Files.writeString(file, """
                model:
                  path: %s
                  device: cpu
                locate:
                  - id: scan
                    method: expert-scan
                    token_ids: [%s]
                    top: 0
                  - id: scores
                    method: expert-attribution
                    token_ids: [%s]
                    top: 0
                  - id: usage
                    method: expert-usage
                    token_ids: [%s, %s, %s]
                    top: 0
                %s
                edit:
                  - op: zero-heads
                    heads: [0.1]
                output:
                  dir: out
                """.formatted(ReferenceData.caseDir(CASE), prompts.get(0).path("ids"), prompts.get(0).path("ids"),
                prompts.get(0).path("ids"), prompts.get(1).path("ids"), prompts.get(2).path("ids"), select));
        return file;
    }

    private static int apply(Path recipe, ByteArrayOutputStream err) {
        PrintStream old = System.err;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            return Main.execute("apply", recipe.toString());
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void expertStepsWriteTheirFindings() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, apply(recipe(""), err), err.toString(StandardCharsets.UTF_8));
        JsonNode steps = Json.MAPPER.readTree(tmp.resolve("out/findings.json").toFile()).path("steps");
        JsonNode expected = ReferenceData.expected(CASE);
        JsonNode p = expected.path("prompts").get(0);
        int experts = expected.path("moe").path("num_experts").asInt();
        int sparse = expected.path("moe").path("sparse_layers").size();

        JsonNode scan = steps.path("scan");
        assertEquals("expert-scan", scan.path("method").asText());
        assertEquals(sparse * experts, scan.path("experts").size());
        for (JsonNode e : scan.path("experts")) {
            double want = p.path("expert_scan").path("layers").get(e.path("layer").asInt()).path("prob")
                    .get(e.path("expert").asInt()).asDouble();
            assertEquals(want, e.path("prob").asDouble(), 1e-4, e.toString());
        }

        JsonNode scores = steps.path("scores");
        for (JsonNode e : scores.path("experts")) {
            double want = p.path("expert_increase").get(e.path("layer").asInt()).path("increase")
                    .get(e.path("expert").asInt()).asDouble();
            assertEquals(want, e.path("score").asDouble(), 1e-4, e.toString());
        }

        JsonNode usage = steps.path("usage");
        assertEquals(expected.path("moe").path("usage").path("tokens").asInt(), usage.path("tokens").asInt());
        for (int l = 0; l < sparse; l++) {
            assertEquals(expected.path("moe").path("usage").path("layers").get(l).path("count"),
                    usage.path("layers").get(l).path("count"));
        }
    }

    @Test
    void theDryRunStatesWhatASparseLayerReads() throws Exception {
        Path recipe = recipe("");
        String floor;
        try (Checkpoint c = Checkpoint.open(ReferenceData.caseDir(CASE))) {
            floor = Long.toString(Residency.streamingFloor(c) + 1024);
        }
        // Qwen3-MoE case: 3 sparse layers of 4 experts, 2 routed; an expert is 3 · 32 · 16 float32 weights
        JsonNode config = Json.MAPPER.readTree(ReferenceData.caseDir(CASE).resolve("config.json").toFile());
        long expertBytes = 3L * config.path("hidden_size").asInt() * config.path("moe_intermediate_size").asInt() * 4;
        String mib = String.format(java.util.Locale.ROOT, "%.1f MiB", expertBytes / (double) (1 << 20));
        String streamed = CliRun.stdout(0, "apply", recipe.toString(), "--dry-run", "--max-memory", floor);
        assertTrue(streamed.contains("experts  3 sparse layers of 4 experts, 2 routed per position (" + mib
                + " each as stored): a forward of one position reads "), streamed);
        String kept = CliRun.stdout(0, "apply", recipe.toString(), "--dry-run");
        assertTrue(kept.contains("all kept in memory; a position computes with 2 of them"), kept);
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void aTopOverAnExpertStepsRankingIsRefused() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = apply(recipe("""
                select:
                  - id: chosen
                    from: scan
                    top: 2
                """), err);
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, message);
        assertTrue(message.contains("select.0.top") && message.contains("experts are chosen per sparse layer"), message);
        assertFalse(Files.exists(tmp.resolve("out")));
    }
}
