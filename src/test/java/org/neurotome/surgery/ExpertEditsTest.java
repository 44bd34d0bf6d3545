package org.neurotome.surgery;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Expert;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Neuron;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.NeuronScale;
import org.neurotome.model.ReferenceData;
import org.neurotome.model.Residency;
import org.neurotome.model.Transformer;
import org.neurotome.model.Weights;

import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code prune-experts} writes, tensor for tensor, the pruned checkpoint the reference made
 * with transformers (router rows dropped, experts renumbered, expert count lowered), whose
 * forward gives the reference's {@code pruned_logits}; fused experts prune as their per-expert
 * form does; {@code zero-experts} equals masking the expert's output at run time; plans
 * config.json cannot express are refused.
 */
class ExpertEditsTest {
    private static final double LOGITS_TOL = 1e-4; // the reference conformance tolerance

    @TempDir
    Path tmp;

    private Path write(Path model, List<Edit> edits) {
        Path out = tmp.resolve(model.getFileName() + "-" + System.nanoTime());
        try (Checkpoint ck = Checkpoint.open(model)) {
            Surgeon.apply(ck, edits, new Surgeon.Options(out, null, Long.MAX_VALUE, false, Map.of(), Map.of(), Map.of()));
        }
        return out;
    }

    /** The experts the reference case removed ({@code moe.prune.remove}). */
    private static List<Expert> referenceRemoval(JsonNode expected) {
        List<Expert> out = new ArrayList<>();
        for (JsonNode layer : expected.path("moe").path("prune").path("remove")) {
            for (JsonNode e : layer.get(1)) {
                out.add(new Expert(layer.get(0).asInt(), e.asInt()));
            }
        }
        return out;
    }

    private static float[] logits(Path model, MemoryBudget budget, int[] ids, List<NeuronScale> scales) {
        try (Checkpoint ck = Checkpoint.open(model);
             Weights w = Weights.load(ck, Device.cpu(), budget == null ? MemoryBudget.unlimited() : budget);
             Transformer t = new Transformer(w);
             ForwardResult r = t.forward(ForwardRequest.tokens(ids).withNeuronScales(scales))) {
            return r.lastLogits(0);
        }
    }

    private static void assertClose(String what, float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol, what + ": logit " + i);
        }
    }

    private static byte[] bytes(Checkpoint ck, String name) {
        return ck.bytes(name).toArray(ValueLayout.JAVA_BYTE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"mixtral_moe", "qwen2_moe_shared", "qwen3_moe", "olmoe_clip"})
    void pruningTheReferencesExpertsWritesTheReferencesPrunedCheckpoint(String model) throws Exception {
        JsonNode expected = ReferenceData.expected(model);
        Path dir = ReferenceData.caseDir(model);
        Path out = write(dir, List.of(new PruneExperts(referenceRemoval(expected))));
        try (Checkpoint ours = Checkpoint.open(out); Checkpoint ref = Checkpoint.open(dir.resolve("pruned"))) {
            assertEquals(new TreeSet<>(ref.tensors().keySet()), new TreeSet<>(ours.tensors().keySet()));
            for (TensorInfo t : ref.tensors().values()) {
                TensorInfo o = ours.info(t.name());
                assertEquals(t.dtype(), o.dtype(), t.name());
                assertArrayEquals(t.shape(), o.shape(), t.name());
                assertArrayEquals(bytes(ref, t.name()), bytes(ours, t.name()), t.name() + " bytes");
            }
        }
        assertEquals(Json.MAPPER.readTree(dir.resolve("pruned/config.json").toFile()),
                Json.MAPPER.readTree(out.resolve("config.json").toFile()), "config.json");
        try (Checkpoint ck = Checkpoint.open(out)) {
            MemoryBudget tight = MemoryBudget.of(Residency.streamingFloor(ck) + 1024, "a test budget");
            for (JsonNode prompt : expected.path("prompts")) {
                int[] ids = ReferenceData.ints(prompt.path("ids"));
                float[] kept = logits(out, null, ids, List.of());
                assertClose(model + " pruned_logits", ReferenceData.floats(prompt.path("pruned_logits")), kept, LOGITS_TOL);
                assertArrayEquals(kept, logits(out, tight, ids, List.of()), model + ": streamed equals kept");
            }
        }
    }

    /** {@code model}'s Mixtral checkpoint with each layer's experts fused and renamed as transformers v5 stores them. */
    private Path fused(Path model) throws Exception {
        Path out = tmp.resolve("fused-" + System.nanoTime());
        try (Checkpoint src = Checkpoint.open(model)) {
            ModelConfig c = ModelConfig.from(src.config());
            int e = c.features().experts().count();
            int w = c.features().experts().width();
            int d = c.hiddenSize();
            List<OutputTensor> tensors = new ArrayList<>();
            for (TensorInfo t : src.tensors().values()) {
                if (!t.name().contains(".experts.") && !t.name().contains(".gate.")) {
                    tensors.add(OutputTensor.copyOf(src, t.name()));
                }
            }
            for (int l = 0; l < c.numLayers(); l++) {
                String moe = "model.layers." + l + ".block_sparse_moe.";
                String mlp = "model.layers." + l + ".mlp.";
                float[] gateUp = new float[e * 2 * w * d];
                float[] down = new float[e * d * w];
                for (int x = 0; x < e; x++) {
                    System.arraycopy(src.floats(moe + "experts." + x + ".w1.weight"), 0, gateUp, 2 * x * w * d, w * d);
                    System.arraycopy(src.floats(moe + "experts." + x + ".w3.weight"), 0, gateUp, (2 * x + 1) * w * d, w * d);
                    System.arraycopy(src.floats(moe + "experts." + x + ".w2.weight"), 0, down, x * d * w, d * w);
                }
                float[] router = src.floats(moe + "gate.weight");
                tensors.add(OutputTensor.ofFloats(mlp + "gate.weight", DType.F32, new long[] {e, d}, router));
                tensors.add(OutputTensor.ofFloats(mlp + "experts.gate_up_proj", DType.F32, new long[] {e, 2L * w, d}, gateUp));
                tensors.add(OutputTensor.ofFloats(mlp + "experts.down_proj", DType.F32, new long[] {e, d, w}, down));
            }
            byte[] config = Json.pretty().writeValueAsString(src.config()).getBytes(StandardCharsets.UTF_8);
            new CheckpointWriter(1L << 30, Map.of("format", "pt"), false).write(out, tensors, Map.of(Checkpoint.CONFIG, config));
        }
        return out;
    }

    private static void assertSameTensors(Path expected, Path actual) {
        try (Checkpoint x = Checkpoint.open(expected); Checkpoint y = Checkpoint.open(actual)) {
            assertEquals(new TreeSet<>(x.tensors().keySet()), new TreeSet<>(y.tensors().keySet()));
            for (TensorInfo t : x.tensors().values()) {
                assertArrayEquals(t.shape(), y.info(t.name()).shape(), t.name());
                assertArrayEquals(x.floats(t.name()), y.floats(t.name()), t.name());
            }
        }
    }

    @Test
    void fusedExpertsPruneAndZeroAsTheirPerExpertForm() throws Exception {
        Path dir = ReferenceData.caseDir("mixtral_moe");
        List<Expert> removal = referenceRemoval(ReferenceData.expected("mixtral_moe"));
        Path pruned = write(fused(dir), List.of(new PruneExperts(removal)));
        assertSameTensors(fused(dir.resolve("pruned")), pruned);
        assertEquals(6, Json.MAPPER.readTree(pruned.resolve("config.json").toFile()).path("num_local_experts").asInt());
        List<Expert> zero = List.of(new Expert(0, 5), new Expert(1, 0));
        assertSameTensors(fused(write(dir, List.of(new ZeroExperts(zero)))), write(fused(dir), List.of(new ZeroExperts(zero))));
    }

    /**
     * A zeroed expert still takes its routing weight but adds nothing: the model equals the
     * original with the expert's output masked at run time (every one of its units' coefficients
     * scaled by 0), and differs from the original where the expert was selected.
     */
    @ParameterizedTest
    @ValueSource(strings = {"mixtral_moe", "qwen2_moe_shared", "qwen3_moe", "olmoe_clip"})
    void zeroExpertsEqualsMaskingTheExpertsOutput(String model) {
        JsonNode expected = ReferenceData.expected(model);
        Path dir = ReferenceData.caseDir(model);
        JsonNode prompt = expected.path("prompts").get(0);
        int[] ids = ReferenceData.ints(prompt.path("ids"));
        // the expert layer 0 selects first at the last position, so the edit changes the output
        JsonNode routing = prompt.path("routing").get(0);
        int layer = routing.path("layer").asInt();
        int expert = routing.path("selected_experts").get(ids.length - 1).get(0).asInt();
        int width = expected.path("moe").path("expert_intermediate_size").asInt();
        Path out = write(dir, List.of(new ZeroExperts(List.of(new Expert(layer, expert)))));
        List<NeuronScale> mask = new ArrayList<>();
        for (int j = 0; j < width; j++) {
            mask.add(new NeuronScale(0, layer, expert * width + j, 0f));
        }
        float[] original = logits(dir, null, ids, List.of());
        float[] masked = logits(dir, null, ids, mask);
        float[] zeroed = logits(out, null, ids, List.of());
        assertClose(model + " zeroed expert", masked, zeroed, 1e-5);
        double moved = 0;
        for (int i = 0; i < original.length; i++) {
            moved = Math.max(moved, Math.abs(original[i] - zeroed[i]));
        }
        assertTrue(moved > 1e-3, model + ": zeroing a selected expert changes the logits (max change " + moved + ")");
        Set<String> changed = new TreeSet<>();
        try (Checkpoint a = Checkpoint.open(dir); Checkpoint b = Checkpoint.open(out)) {
            for (String n : a.tensors().keySet()) {
                if (!Arrays.equals(bytes(a, n), bytes(b, n))) {
                    changed.add(n);
                }
            }
            assertEquals(3, changed.size(), changed.toString());
            for (String n : changed) {
                assertTrue(n.contains("layers." + layer + ".") && n.contains("experts." + expert + "."), n);
                for (float v : b.floats(n)) {
                    assertTrue(v == 0f, n + " holds " + v); // 0 or -0 (a negative weight times 0)
                }
            }
        }
    }

    private static NeurotomeException refused(String model, List<Edit> edits) {
        try (Checkpoint ck = Checkpoint.open(ReferenceData.caseDir(model))) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> Surgeon.lower(ck, edits));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode(), e.getMessage());
            return e;
        }
    }

    @Test
    void plansAConfigCannotExpressAreRefusedSayingWhy() {
        // qwen2_moe_shared: 8 experts, top-2, sparse layers 0 and 2 (layer 1 dense)
        String m = refused("qwen2_moe_shared", List.of(new PruneExperts(List.of(new Expert(0, 1), new Expert(0, 2),
                new Expert(2, 3))))).getMessage();
        assertTrue(m.contains("2 expert(s) from layer 0 but 1 from layer 2") && m.contains("num_experts")
                && m.contains("one expert count"), m);
        m = refused("qwen2_moe_shared", List.of(new PruneExperts(List.of(new Expert(0, 1))))).getMessage();
        assertTrue(m.contains("but 0 from layer 2"), m);
        m = refused("qwen2_moe_shared", List.of(new PruneExperts(List.of(new Expert(1, 0))))).getMessage();
        assertTrue(m.contains("layer 1 is not a sparse layer") && m.contains("[0, 2]"), m);
        m = refused("qwen2_moe_shared", List.of(new ZeroExperts(List.of(new Expert(0, 8))))).getMessage();
        assertTrue(m.contains("experts 0..7"), m);
        // qwen3_moe: 4 experts, top-2, sparse layers 0-2
        List<Expert> three = new ArrayList<>();
        List<Expert> all = new ArrayList<>();
        for (int l = 0; l < 3; l++) {
            for (int e = 0; e < 4; e++) {
                all.add(new Expert(l, e));
                if (e < 3) {
                    three.add(new Expert(l, e));
                }
            }
        }
        m = refused("qwen3_moe", List.of(new PruneExperts(three))).getMessage();
        assertTrue(m.contains("leaves 1 of 4") && m.contains("num_experts_per_tok") && m.contains("at most 2"), m);
        m = refused("qwen3_moe", List.of(new PruneExperts(all))).getMessage();
        assertTrue(m.contains("removes all 4 experts"), m);
        m = refused("qwen3_moe", List.of(new PruneExperts(List.of(new Expert(0, 0), new Expert(1, 0), new Expert(2, 0))),
                new ZeroNeurons(List.of(new Neuron(0, 3))))).getMessage();
        assertTrue(m.contains("zero-neurons after prune-experts") && m.contains("put prune-experts last"), m);
        m = refused("llama_gqa_tied_bf16", List.of(new ZeroExperts(List.of(new Expert(0, 0))))).getMessage();
        assertTrue(m.contains("has no experts"), m);
    }

    /** A sharded input keeps its shards: a renumbered expert is written into the shard its tensors came from. */
    @Test
    void aShardedCheckpointPrunesIntoTheSameShards() throws Exception {
        Path dir = ReferenceData.caseDir("olmoe_clip");
        Path sharded = tmp.resolve("sharded");
        try (Checkpoint src = Checkpoint.open(dir)) {
            List<OutputTensor> tensors = src.tensors().keySet().stream().map(n -> OutputTensor.copyOf(src, n)).toList();
            new CheckpointWriter(20_000, Map.of("format", "pt"), false).write(sharded, tensors,
                    Map.of(Checkpoint.CONFIG, Files.readAllBytes(dir.resolve(Checkpoint.CONFIG))));
        }
        List<Expert> removal = referenceRemoval(ReferenceData.expected("olmoe_clip"));
        Path out;
        try (Checkpoint in = Checkpoint.open(sharded)) {
            assertTrue(in.shardFiles().size() > 2, "the input is sharded: " + in.shardFiles());
            out = tmp.resolve("pruned-sharded");
            Surgeon.apply(in, List.of(new PruneExperts(removal)), new Surgeon.Options(out, null, null, false, Map.of(),
                    Map.of(), Map.of()));
            try (Checkpoint o = Checkpoint.open(out)) {
                assertEquals(in.shardFiles().size(), o.shardFiles().size());
                // layer 0 removes experts 0 and 1, so expert 2 becomes expert 0 and stays in its shard
                String from = "model.layers.0.mlp.experts.2.down_proj.weight";
                String to = "model.layers.0.mlp.experts.0.down_proj.weight";
                assertEquals(in.info(from).file().getFileName(), o.info(to).file().getFileName());
            }
        }
        assertSameTensors(dir.resolve("pruned"), out);
    }

    @Test
    void editsBeforePruningFollowTheirExpertsRenumbered() throws Exception {
        // zero expert 3's unit 1 of layer 0, then remove expert 1: the zeroed unit is now expert 2's
        Path dir = ReferenceData.caseDir("qwen3_moe");
        Path out = write(dir, List.of(new ZeroNeurons(List.of(new Neuron(0, 3 * 16 + 1))),
                new PruneExperts(List.of(new Expert(0, 1), new Expert(1, 1), new Expert(2, 1)))));
        try (Checkpoint ck = Checkpoint.open(out); Checkpoint src = Checkpoint.open(dir)) {
            float[] gate = ck.floats("model.layers.0.mlp.experts.2.gate_proj.weight");
            float[] before = src.floats("model.layers.0.mlp.experts.3.gate_proj.weight");
            for (int i = 0; i < gate.length; i++) {
                if (i / 32 == 1) {
                    assertTrue(gate[i] == 0f, "row 1, zeroed: " + gate[i]);
                } else {
                    assertEquals(before[i], gate[i], "row " + i / 32);
                }
            }
        }
        assertTrue(Files.exists(out.resolve("manifest.json")));
    }
}
