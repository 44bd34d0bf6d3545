package org.neurotome.cli;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.fixtures.FixtureCheckpoint;
import org.neurotome.fixtures.FixtureVocabulary;
import org.neurotome.model.LanguageModel;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neurotome fixtures build} writes a complete checkpoint that loads back with its
 * tokenizer, refuses to overwrite without --force and rejects unknown families;
 * {@code fixtures evaluate} measures it.
 */
class FixturesCommandTest {
    @TempDir
    Path tmp;

    @Test
    void buildWritesALoadableCheckpointAndEvaluateMeasuresIt() throws Exception {
        String out = capture(() -> assertEquals(0, Main.execute("fixtures", "build", "--family", "gpt2", "--steps", "2",
                "--out", tmp.toString())));
        Path dir = tmp.resolve("fixture-gpt2");
        assertTrue(out.contains("wrote " + dir), out);
        assertTrue(out.contains("head-ablation scan"), out);
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", FixtureCheckpoint.TRAINING_LOG, "manifest.json")) {
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
        JsonNode config = Json.MAPPER.readTree(dir.resolve("config.json").toFile());
        assertEquals("GPT2LMHeadModel", config.get("architectures").get(0).asText());
        assertEquals(0, config.get("pad_token_id").asInt());
        assertEquals(1, config.get("bos_token_id").asInt());
        assertEquals(2, config.get("eos_token_id").asInt());
        List<String> log = Files.readAllLines(dir.resolve(FixtureCheckpoint.TRAINING_LOG));
        assertEquals("start", Json.MAPPER.readTree(log.getFirst()).get("event").asText());
        assertEquals("final", Json.MAPPER.readTree(log.getLast()).get("event").asText());
        try (LanguageModel lm = LanguageModel.open(dir, Device.cpu())) {
            assertArrayEquals(FixtureVocabulary.standard().encode("Q: What is 12 plus 7? A: 19"),
                    lm.encode("Q: What is 12 plus 7? A: 19"));
        }
        assertEquals(0, Main.execute("verify", dir.toString()));

        assertEquals(4, Main.execute("fixtures", "build", "--family", "gpt2", "--steps", "1", "--out", tmp.toString()));
        assertEquals(2, Main.execute("fixtures", "build", "--family", "bert", "--out", tmp.toString()));
        assertEquals(2, Main.execute("fixtures", "build", "--family", "gpt2", "--steps", "0", "--force",
                "--out", tmp.toString()));

        String json = capture(() -> assertEquals(0, Main.execute("fixtures", "evaluate", dir.toString(), "--json")));
        JsonNode report = Json.MAPPER.readTree(json);
        assertEquals(28, report.get("factual").get("cases").asInt());
        assertEquals(4, report.get("head_scan").size());
    }

    @Test
    void evaluateReportsEachStageAsItGoes() {
        List<String> stages = new java.util.ArrayList<>();
        try (LanguageModel lm = LanguageModel.open(Path.of("checkpoints/fixture-gpt2"), Device.cpu())) {
            org.neurotome.fixtures.FixtureReport.measure("fixture-gpt2", lm.transformer(),
                    new org.neurotome.fixtures.FixtureEvaluation(lm::encode),
                    (phase, done, total) -> stages.add(done + "/" + total + " " + phase));
        }
        assertEquals(List.of("0/5 metrics", "1/5 head scan of +", "2/5 head scan of -", "3/5 head scan of *",
                "4/5 head scan of /", "5/5 done"), stages);
    }

    private static String capture(Runnable r) {
        PrintStream old = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setOut(old);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
