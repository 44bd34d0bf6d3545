package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.model.ReferenceData;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Experts chosen from an expert analysis's findings by a recipe's {@code select ... lowest: N}
 * and pruned by {@code prune-experts: ${id}}: REAP saliency over the reference prompts chooses
 * the reference's removal and writes its {@code pruned/} checkpoint tensor for tensor; the
 * lowest expert-scan drop and expert-attribution score agree with the reference's numbers; what
 * cannot work is refused before anything runs (exit 2, naming the recipe line).
 */
class ExpertSelectRecipeTest {
    @TempDir
    Path tmp;

    private Path recipe(String model, String locate, String select, String edit) throws Exception {
        Path file = tmp.resolve("recipe.yaml");
        Files.writeString(file, """
                model:
                  path: %s
                  device: cpu
                locate:
                %s
                select:
                %s
                edit:
                %s
                output:
                  dir: out
                """.formatted(ReferenceData.caseDir(model).toAbsolutePath(), locate.indent(2), select.indent(2),
                edit.indent(2)));
        return file;
    }

    /** The reference's three prompts as {@code token_ids}. */
    private static String allPrompts(String model) throws Exception {
        List<String> ids = new ArrayList<>();
        ReferenceData.expected(model).path("prompts").forEach(p -> ids.add(p.path("ids").toString()));
        return "[" + String.join(", ", ids) + "]";
    }

    private static byte[] bytes(Checkpoint ck, String name) {
        return ck.bytes(name).toArray(ValueLayout.JAVA_BYTE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"mixtral_moe", "qwen2_moe_shared", "qwen3_moe", "olmoe_clip"})
    void theLowestReapSaliencyIsTheReferencesRemovalAndItsPrunedCheckpoint(String model) throws Exception {
        JsonNode expected = ReferenceData.expected(model);
        int lowest = Math.max(1, expected.path("moe").path("num_experts").asInt() / 4); // the reference's rule
        Path r = recipe(model, """
                - id: usage
                  method: expert-usage
                  token_ids: %s
                  top: 0""".formatted(allPrompts(model)), """
                - id: weak
                  from: usage
                  lowest: %d""".formatted(lowest), """
                - op: prune-experts
                  experts: ${weak}""");
        String dry = CliRun.stdout(0, "apply", r.toString(), "--dry-run");
        assertTrue(dry.contains("select   weak: from usage, experts, the lowest " + lowest + " of every sparse layer")
                && dry.contains("edit     prune-experts on ${weak} chosen at run time"), dry);
        CliRun.stdout(0, "apply", r.toString());

        Path out = tmp.resolve("out");
        List<String> removal = new ArrayList<>();
        for (JsonNode layer : expected.path("moe").path("prune").path("remove")) {
            layer.get(1).forEach(e -> removal.add(layer.get(0).asInt() + "." + e.asInt()));
        }
        JsonNode chosen = Json.MAPPER.readTree(out.resolve("findings.json").toFile()).path("selections").path("weak");
        List<String> ours = new ArrayList<>();
        chosen.forEach(e -> ours.add(e.asText()));
        assertEquals(new TreeSet<>(removal), new TreeSet<>(ours));

        Path ref = ReferenceData.caseDir(model).resolve("pruned");
        try (Checkpoint o = Checkpoint.open(out); Checkpoint p = Checkpoint.open(ref)) {
            assertEquals(new TreeSet<>(p.tensors().keySet()), new TreeSet<>(o.tensors().keySet()));
            for (TensorInfo t : p.tensors().values()) {
                assertArrayEquals(t.shape(), o.info(t.name()).shape(), t.name());
                assertArrayEquals(bytes(p, t.name()), bytes(o, t.name()), t.name() + " bytes");
            }
        }
        assertEquals(Json.MAPPER.readTree(ref.resolve("config.json").toFile()),
                Json.MAPPER.readTree(out.resolve("config.json").toFile()));
    }

    /**
     * Per sparse layer, the expert with the smallest reference value; {@code values} gives a
     * layer's E values. The runner-up must be clearly above it, else float32 could pick another.
     */
    private static List<String> lowestOfEach(JsonNode layers, java.util.function.Function<JsonNode, double[]> values) {
        List<String> out = new ArrayList<>();
        for (JsonNode l : layers) {
            double[] v = values.apply(l);
            int[] order = IntStream.range(0, v.length).boxed().sorted(Comparator.comparingDouble(e -> v[e]))
                    .mapToInt(Integer::intValue).toArray();
            assertTrue(v[order[1]] - v[order[0]] > 1e-3, "a clear lowest in layer " + l.path("layer"));
            out.add(l.path("layer").asInt() + "." + order[0]);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void theLowestScanDropAndAttributionScoreAreTheReferences(int prompt) throws Exception {
        String model = "qwen3_moe";
        JsonNode p = ReferenceData.expected(model).path("prompts").get(prompt);
        String ids = "[" + p.path("ids") + "]";
        Path r = recipe(model, """
                - id: scan
                  method: expert-scan
                  token_ids: %s
                  top: 0
                - id: scores
                  method: expert-attribution
                  token_ids: %s
                  top: 0""".formatted(ids, ids), """
                - id: by_drop
                  from: scan
                  lowest: 1
                - id: by_score
                  from: scores
                  kind: experts
                  lowest: 1""", """
                - op: zero-experts
                  experts: ${by_score}
                - op: prune-experts
                  experts: ${by_drop}""");
        CliRun.stdout(0, "apply", r.toString());

        double base = p.path("expert_scan").path("base_prob").asDouble();
        List<String> byDrop = lowestOfEach(p.path("expert_scan").path("layers"), l -> {
            double[] v = new double[l.path("prob").size()];
            for (int e = 0; e < v.length; e++) {
                v[e] = base - l.path("prob").get(e).asDouble();
            }
            return v;
        });
        List<String> byScore = lowestOfEach(p.path("expert_increase"), l -> {
            double[] v = new double[l.path("increase").size()];
            for (int e = 0; e < v.length; e++) {
                v[e] = l.path("increase").get(e).asDouble();
            }
            return v;
        });
        JsonNode selections = Json.MAPPER.readTree(tmp.resolve("out/findings.json").toFile()).path("selections");
        assertEquals(byDrop, texts(selections.path("by_drop")));
        assertEquals(byScore, texts(selections.path("by_score")));
        assertEquals(3, Json.MAPPER.readTree(tmp.resolve("out/config.json").toFile()).path("num_experts").asInt());
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(e -> out.add(e.asText()));
        return out;
    }

    /** Runs {@code apply --dry-run}, expects exit 2 and no output, and returns the message. */
    private String refused(Path recipe) {
        CliRun run = CliRun.of("apply", recipe.toString(), "--dry-run");
        assertEquals(2, run.code(), run.out() + run.err());
        assertFalse(run.err().contains("Exception"), run.err());
        assertFalse(Files.exists(tmp.resolve("out")));
        return run.err();
    }

    private static final String USAGE = """
            - id: usage
              method: expert-usage
              token_ids: [[1, 2, 3]]
              top: 0""";

    @Test
    void whatCannotWorkIsRefusedAtItsRecipeLine() throws Exception {
        String prune = """
                - op: prune-experts
                  experts: ${weak}""";
        String top = refused(recipe("mixtral_moe", USAGE, """
                - id: weak
                  from: usage
                  top: 2""", prune));
        assertTrue(top.contains("select.0.top") && top.contains("not by a top over all layers")
                && top.contains("lowest: N"), top);

        String cut = refused(recipe("mixtral_moe", USAGE.replace("top: 0", "top: 10"), """
                - id: weak
                  from: usage
                  lowest: 2""", prune));
        assertTrue(cut.contains("locate.0.top") && cut.contains("0 (every expert ranked) or at least 16"), cut);

        String unranked = refused(recipe("mixtral_moe", USAGE + "\n  layers: 1", """
                - id: weak
                  from: usage
                  lowest: 2""", prune));
        assertTrue(unranked.contains("locate.0.layers") && unranked.contains("sparse layers [0]"), unranked);

        String uneven = refused(recipe("mixtral_moe", USAGE, """
                - id: weak
                  from: usage
                  lowest: 2
                  layers: 1""", prune));
        assertTrue(uneven.contains("edit.0.experts") && uneven.contains("same number from every sparse layer")
                && uneven.contains("sparse layers [0]"), uneven);

        String tooMany = refused(recipe("qwen3_moe", USAGE, """
                - id: weak
                  from: usage
                  lowest: 3""", prune));
        assertTrue(tooMany.contains("edit.0.experts") && tooMany.contains("lowest at most 2")
                && tooMany.contains("num_experts_per_tok 2"), tooMany);

        String beyond = refused(recipe("qwen3_moe", USAGE, """
                - id: weak
                  from: usage
                  lowest: 5""", prune));
        assertTrue(beyond.contains("select.0.lowest") && beyond.contains("more experts than a sparse layer has"), beyond);

        String direct = refused(recipe("mixtral_moe", USAGE, """
                - id: weak
                  from: usage
                  lowest: 1""", """
                - op: prune-experts
                  experts: ${usage}"""));
        assertTrue(direct.contains("edit.0.experts") && direct.contains("experts are taken from a select step")
                && direct.contains("weak"), direct);

        String notExperts = refused(recipe("mixtral_moe", """
                - id: attr
                  method: attribution
                  token_ids: [[1, 2, 3]]""", """
                - id: weak
                  from: attr
                  kind: neurons
                  lowest: 2""", """
                - op: zero-neurons
                  neurons: ${weak}"""));
        assertTrue(notExperts.contains("select.0.lowest") && notExperts.contains("lowest chooses experts"), notExperts);
    }
}
