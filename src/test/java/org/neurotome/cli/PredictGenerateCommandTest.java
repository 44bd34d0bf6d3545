package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.model.TinyTokenizer;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code neurotome predict} and {@code generate} end to end, against the reference numbers. */
class PredictGenerateCommandTest {
    private static Path reference(String name) {
        try {
            return Path.of(PredictGenerateCommandTest.class.getResource("/reference/" + name + "/config.json").toURI())
                    .getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode json(String text) throws Exception {
        return Json.MAPPER.readTree(text);
    }

    @Test
    void predictJsonMatchesTheReferenceLogits() throws Exception {
        Path stories = reference("stories260K");
        JsonNode prompt = json(java.nio.file.Files.readString(stories.resolve("expected.json"))).path("prompts").get(1);
        String ids = prompt.path("ids").toString().replaceAll("[\\[\\] ]", "");
        CliRun run = CliRun.of("predict", stories.toString(), "--ids", ids, "--top", "5", "--json", "--logits",
                "--device", "cpu");
        assertEquals(0, run.code(), run.err());
        JsonNode out = json(run.out());
        assertEquals(prompt.path("ids"), out.path("ids"));
        assertFalse(out.has("tokens"), "no tokenizer, no token strings");
        assertEquals(5, out.path("top").size());
        JsonNode top = out.path("top").get(0);
        assertEquals(prompt.path("target").asInt(), top.path("id").asInt());
        assertEquals(Math.log(top.path("prob").asDouble()), top.path("logprob").asDouble(), 1e-9);
        JsonNode expectedLogits = prompt.path("logits");
        assertEquals(expectedLogits.size(), out.path("logits").size());
        for (int i = 0; i < expectedLogits.size(); i++) {
            assertEquals(expectedLogits.get(i).asDouble(), out.path("logits").get(i).asDouble(), 1e-4, "logit " + i);
        }
        double last = Double.POSITIVE_INFINITY;
        for (JsonNode t : out.path("top")) {
            assertTrue(t.path("prob").asDouble() <= last);
            last = t.path("prob").asDouble();
        }
    }

    /** A mixture of experts' --json adds the last position's routing of every sparse layer, as the reference has it. */
    @Test
    void predictJsonShowsTheRouting() throws Exception {
        Path dir = reference("qwen2_moe_shared");
        JsonNode expected = json(java.nio.file.Files.readString(dir.resolve("expected.json")));
        JsonNode prompt = expected.path("prompts").get(2);
        String ids = prompt.path("ids").toString().replaceAll("[\\[\\] ]", "");
        CliRun run = CliRun.of("predict", dir.toString(), "--ids", ids, "--json", "--device", "cpu");
        assertEquals(0, run.code(), run.err());
        JsonNode routing = json(run.out()).path("routing");
        assertEquals(expected.path("moe").path("sparse_layers").size(), routing.size());
        for (int i = 0; i < routing.size(); i++) {
            JsonNode want = prompt.path("routing").get(i);
            JsonNode got = routing.get(i);
            int last = want.path("router_logits").size() - 1;
            assertEquals(want.path("layer").asInt(), got.path("layer").asInt());
            assertEquals(want.path("selected_experts").get(last).toString(), got.path("experts").toString());
            for (int e = 0; e < got.path("weights").size(); e++) {
                assertEquals(want.path("routing_weights").get(last).get(e).asDouble(), got.path("weights").get(e).asDouble(),
                        1e-4, "layer " + i + " expert " + e);
                assertEquals(want.path("router_logits").get(last).get(e).asDouble(),
                        got.path("router_logits").get(e).asDouble(), 1e-4 * Math.max(1,
                                Math.abs(want.path("router_logits").get(last).get(e).asDouble())));
            }
        }
    }

    @Test
    void predictTextListsRanks() {
        CliRun run = CliRun.of("predict", reference("gpt2_tied").toString(), "--ids", "4,8,15", "--top", "3");
        assertEquals(0, run.code(), run.err());
        assertEquals(5, run.out().strip().lines().count(), run.out());
        assertTrue(run.out().lines().skip(2).findFirst().orElseThrow().strip().startsWith("1 "), run.out());
    }

    @Test
    void generateReproducesTheGreedyReference() throws Exception {
        Path stories = reference("stories260K");
        JsonNode greedy = json(java.nio.file.Files.readString(stories.resolve("greedy.json")));
        CliRun run = CliRun.of("generate", stories.toString(), "--ids", "1", "--max-new", "40", "--json");
        assertEquals(0, run.code(), run.err());
        JsonNode out = json(run.out());
        assertEquals(1, out.path("prompt_ids").get(0).asInt());
        assertEquals(40, out.path("generated_ids").size());
        for (int i = 0; i < 40; i++) {
            assertEquals(greedy.path("generated_ids").get(i).asInt(), out.path("generated_ids").get(i).asInt(), "id " + i);
        }
        assertFalse(out.has("text"));
    }

    @Test
    void promptsGoThroughTheTokenizer(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        TinyTokenizer.write(dir, true);
        CliRun gen = CliRun.of("generate", dir.toString(), "--prompt", "once upon a time", "--max-new", "3", "--json");
        assertEquals(0, gen.code(), gen.err());
        JsonNode out = json(gen.out());
        assertEquals("[1,3,4,5,6]", out.path("prompt_ids").toString());
        assertTrue(out.has("text"));
        CliRun pred = CliRun.of("predict", dir.toString(), "--prompt", "once upon", "--json");
        assertEquals(0, pred.code(), pred.err());
        JsonNode p = json(pred.out());
        assertEquals("[\"<s>\",\"once\",\"upon\"]", p.path("tokens").toString());
        assertTrue(p.path("top").get(0).has("token"));
        assertFalse(p.has("logits"));
    }

    @Test
    void badInputsExitWithCode2() {
        String model = reference("stories260K").toString();
        CliRun badId = CliRun.of("predict", model, "--ids", "1,9999");
        assertEquals(2, badId.code());
        assertTrue(badId.err().contains("9999") && badId.err().contains("512"), badId.err());
        CliRun noTokenizer = CliRun.of("predict", model, "--prompt", "hello");
        assertEquals(2, noTokenizer.code());
        assertTrue(noTokenizer.err().contains("tokenizer.json"), noTokenizer.err());
        assertEquals(2, CliRun.of("predict", model, "--ids", "1", "--prompt", "x").code());
        assertEquals(2, CliRun.of("predict", model).code());
        assertEquals(2, CliRun.of("predict", model, "--ids", "1", "--device", "tpu").code());
        assertEquals(2, CliRun.of("generate", model, "--ids", "1", "--max-new", "0").code());
        assertEquals(3, CliRun.of("predict", reference("stories260K").resolve("missing").toString(), "--ids", "1").code());
    }

    @Test
    void generateRefusesMoreNewTokensThanTheContextHolds() {
        CliRun rotary = CliRun.of("generate", reference("stories260K").toString(), "--ids", "1", "--max-new", "2147483647");
        assertEquals(2, rotary.code(), rotary.err());
        assertEquals("error: --max-new 2147483647 is more than the model's whole context (max_position_embeddings 512);"
                + " allowed: at most 512\n", rotary.err());
        CliRun learned = CliRun.of("generate", reference("gpt2_tied").toString(), "--ids", "4,8,15", "--max-new",
                "2147483647");
        assertEquals(2, learned.code(), learned.err());
        assertTrue(learned.err().startsWith("error: --max-new 2147483647: the prompt (3 ids) plus the new tokens exceed"
                + " the model's"), learned.err());
    }

    @Test
    void aRepeatedIdsOptionIsRefusedNotConcatenated() {
        CliRun run = CliRun.of("predict", reference("stories260K").toString(), "--ids", "1,2", "--ids", "3");
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains("--ids"), run.err());
        CliRun bad = CliRun.of("predict", reference("stories260K").toString(), "--ids", "1,x");
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().contains("'x' is not a token id"), bad.err());
    }

    @Test
    void generatedTextKeepsTheSpaceAfterThePromptAndHidesSpecialTokens(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        TinyTokenizer.write(dir, true);
        // ids 3 4 = "once upon"; 5 6 = "a time"; 2 = </s>
        try (org.neurotome.model.LanguageModel lm = org.neurotome.model.LanguageModel.open(dir, ai.djl.Device.cpu())) {
            org.neurotome.model.TextTokenizer tok = lm.tokenizer().orElseThrow();
            assertEquals(" a time", tok.continuation(new int[] {1, 3, 4}, new int[] {5, 6, 2}));
            assertEquals("once upon a time", tok.text(new int[] {1, 3, 4, 5, 6, 2}));
        }
        CliRun gen = CliRun.of("generate", dir.toString(), "--prompt", "once upon", "--max-new", "3");
        assertEquals(0, gen.code(), gen.err());
        assertTrue(gen.out().startsWith("once upon"), gen.out());
        assertFalse(gen.out().contains("</s>") || gen.out().contains("<s>"), gen.out());
    }

    @Test
    void aModelWithNonFiniteWeightsIsRefusedNamingTheTensor(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        String tensor = "model.layers.2.mlp.down_proj.weight";
        long offset;
        try (org.neurotome.checkpoint.Checkpoint ck = org.neurotome.checkpoint.Checkpoint.open(dir)) {
            offset = ck.info(tensor).begin();
        }
        Path file = dir.resolve("model.safetensors");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            byte[] len = new byte[8];
            f.readFully(len);
            long header = java.nio.ByteBuffer.wrap(len).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
            f.seek(8 + header + offset + 4L * 7);
            f.write(new byte[] {0, 0, (byte) 0xc0, 0x7f});   // float32 NaN, little-endian
        }
        String expected = ": the model computes non-finite logits (NaN or infinite); tensor '" + tensor
                + "' (model.safetensors) holds a NaN or infinite value at element 7";
        for (String[] args : new String[][] {
                {"predict", dir.toString(), "--ids", "1,3"},
                {"generate", dir.toString(), "--ids", "1,3", "--max-new", "2"},
                {"locate", dir.toString(), "--method", "attribution", "--ids", "1,3"}}) {
            CliRun run = CliRun.of(args);
            assertEquals(3, run.code(), String.join(" ", args) + ": " + run.err());
            assertTrue(run.err().contains(expected), run.err());
        }
    }

    @Test
    void aRotaryPromptPastMaxPositionsWarnsOnceAndALearnedOneIsRefused(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        Path config = dir.resolve("config.json");
        java.nio.file.Files.writeString(config, java.nio.file.Files.readString(config)
                .replace("\"max_position_embeddings\": 512", "\"max_position_embeddings\": 4"));
        CliRun run = CliRun.of("predict", dir.toString(), "--ids", "1,3,4,5,6,7");
        assertEquals(0, run.code(), run.err());
        assertEquals(1, run.err().lines().filter(l -> l.startsWith("warning: a sequence of 6 tokens is longer than")
                && l.contains("max_position_embeddings 4")).count(), run.err());
        CliRun learned = CliRun.of("predict", reference("gpt2_tied").toString(), "--ids",
                String.join(",", java.util.Collections.nCopies(100, "4")));
        assertEquals(2, learned.code(), learned.err());
        assertTrue(learned.err().contains("learned positions"), learned.err());
    }
}
