package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.model.Residency;
import org.neurotome.model.Weights;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --max-memory}, {@code --threads} and {@code --no-kv-cache} from the command line: a
 * model streamed under a small budget predicts, generates and locates what it does kept; the
 * dry run says it will stream; a budget below one layer, a size that is not one and a thread
 * count below one are bad input (exit 2).
 */
class MemoryOptionsCommandTest {
    private static Path reference(String name) {
        try {
            return Path.of(MemoryOptionsCommandTest.class.getResource("/reference/" + name + "/config.json").toURI())
                    .getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A --max-memory value (in bytes) just above what streaming {@code model} needs. */
    private static String justStreaming(Path model) {
        try (Checkpoint c = Checkpoint.open(model)) {
            return Long.toString(Residency.streamingFloor(c) + 1024);
        }
    }

    @Test
    void aStreamedModelPredictsWhatAKeptOneDoes() throws Exception {
        Path model = reference("llama_gqa_tied_bf16");
        String[] args = {"predict", model.toString(), "--ids", "3,1,4,1,5,9", "--top", "5", "--json", "--logits"};
        JsonNode kept = Json.MAPPER.readTree(CliRun.stdout(0, args));
        String[] streamed = java.util.Arrays.copyOf(args, args.length + 4);
        streamed[args.length] = "--max-memory";
        streamed[args.length + 1] = justStreaming(model);
        streamed[args.length + 2] = "--threads";
        streamed[args.length + 3] = "1";
        JsonNode s = Json.MAPPER.readTree(CliRun.stdout(0, streamed));
        assertEquals(kept.path("top").get(0).path("id"), s.path("top").get(0).path("id"));
        for (int i = 0; i < kept.path("logits").size(); i++) {
            assertEquals(kept.path("logits").get(i).asDouble(), s.path("logits").get(i).asDouble(), 1e-6, "logit " + i);
        }
    }

    @Test
    void generateWithoutTheCacheGivesTheSameIds() throws Exception {
        Path model = reference("stories260K");
        JsonNode cached = Json.MAPPER.readTree(CliRun.stdout(0, "generate", model.toString(), "--ids", "1", "--max-new",
                "40", "--ignore-eos", "--json"));
        JsonNode full = Json.MAPPER.readTree(CliRun.stdout(0, "generate", model.toString(), "--ids", "1", "--max-new",
                "40", "--ignore-eos", "--json", "--no-kv-cache", "--max-memory", justStreaming(model)));
        assertEquals(40, cached.path("generated_ids").size());
        assertEquals(cached.path("generated_ids"), full.path("generated_ids"));
    }

    @Test
    void theDryRunSaysTheWeightsWillStream(@TempDir Path dir) throws Exception {
        Path model = reference("stories260K");
        Path recipe = dir.resolve("recipe.yaml");
        Files.writeString(recipe, """
                model:
                  path: %s
                locate:
                  - id: scan
                    method: head-scan
                    token_ids: [[1, 403, 407]]
                edit:
                  - op: zero-heads
                    heads: ${scan}
                output:
                  dir: %s
                """.formatted(model, dir.resolve("out")));
        String small = CliRun.stdout(0, "apply", recipe.toString(), "--dry-run", "--max-memory", justStreaming(model));
        assertTrue(small.contains("weights  streamed one layer at a time under --max-memory"), small);
        String large = CliRun.stdout(0, "apply", recipe.toString(), "--dry-run", "--max-memory", "4g");
        assertTrue(large.contains("weights  kept in memory"), large);
    }

    @Test
    void budgetsAndThreadCountsThatCannotWorkAreBadInput() {
        Path model = reference("stories260K");
        CliRun tiny = CliRun.of("predict", model.toString(), "--ids", "1", "--max-memory", "300m");
        assertEquals(2, tiny.code(), tiny.err());
        assertTrue(tiny.err().startsWith("error: --max-memory 300m leaves "), tiny.err());
        assertTrue(tiny.err().contains("the smallest --max-memory that works is "), tiny.err());
        CliRun garbage = CliRun.of("predict", model.toString(), "--ids", "1", "--max-memory", "lots");
        assertEquals(2, garbage.code(), garbage.err());
        assertTrue(garbage.err().contains("512m"), garbage.err());
        CliRun threads = CliRun.of("predict", model.toString(), "--ids", "1", "--threads", "0");
        assertEquals(2, threads.code(), threads.err());
        assertTrue(threads.err().contains("--threads must be at least 1"), threads.err());
        int processors = Runtime.getRuntime().availableProcessors();
        for (int many : new int[] {processors + 1, 10_000}) {
            CliRun tooMany = CliRun.of("predict", model.toString(), "--ids", "1", "--threads", String.valueOf(many));
            assertEquals(2, tooMany.code(), tooMany.err());
            assertEquals("error: --threads is " + many + ", more than the " + processors + " processors this machine "
                    + "gives neurotome; allowed: 1 to " + processors + "\n", tooMany.err());
        }
    }

    /** The value a refusal advises as the smallest --max-memory that works, e.g. {@code 449m}. */
    private static String advised(CliRun refused) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("the smallest --max-memory that works is (\\d+m) \\("
                + "384\\.0 MiB for the JVM and libtorch").matcher(refused.err());
        assertTrue(m.find(), refused.err());
        return m.group(1);
    }

    /**
     * {@code args} followed by a --max-memory value: far too small is refused with advice; the
     * advised value works on the first try (exit in {@code ok}); a tenth less is refused again,
     * with the same advice.
     */
    private static void adviceHolds(java.util.List<Integer> ok, String... args) {
        String[] with = java.util.Arrays.copyOf(args, args.length + 1);
        with[args.length] = "100m";
        CliRun tiny = CliRun.of(with);
        assertEquals(2, tiny.code(), tiny.err());
        String value = advised(tiny);
        with[args.length] = value;
        CliRun enough = CliRun.of(with);
        assertTrue(ok.contains(enough.code()), value + ": " + enough.err());
        long mib = Long.parseLong(value.substring(0, value.length() - 1));
        with[args.length] = (mib * 9 / 10) + "m";
        CliRun less = CliRun.of(with);
        assertEquals(2, less.code(), with[args.length] + ": " + less.err());
        assertEquals(value, advised(less), less.err());
    }

    @Test
    void theAdvisedBudgetWorksOnTheFirstTryAndATenthLessIsRefused(@TempDir Path dir) throws Exception {
        Path model = org.neurotome.testing.TestModels.storiesWithFixtureTokenizer(dir);
        adviceHolds(java.util.List.of(0), "predict", model.toString(), "--prompt", "there was a", "--max-memory");
        Path suite = dir.resolve("suite.yaml");
        Files.writeString(suite, """
                name: pair
                tasks:
                  - kind: gender
                    dataset: %s
                    limit: 4
                gates:
                  - gender.bias_gap.delta >= -1
                """.formatted(Path.of("eval/datasets/gender.jsonl").toAbsolutePath()));
        // a candidate and a baseline open side by side share the budget
        adviceHolds(java.util.List.of(0, 1), "eval", model.toString(), "--suite", suite.toString(), "--baseline",
                model.toString(), "--out", dir.resolve("report").toString(), "--max-memory");
        Path recipe = dir.resolve("recipe.yaml");
        Files.writeString(recipe, """
                model:
                  path: %s
                locate:
                  - id: scan
                    method: head-scan
                    token_ids: [[1, 403, 407]]
                edit:
                  - op: zero-heads
                    heads: ${scan}
                output:
                  dir: %s
                """.formatted(model, dir.resolve("out")));
        adviceHolds(java.util.List.of(0), "apply", recipe.toString(), "--force", "--max-memory");
    }
}
