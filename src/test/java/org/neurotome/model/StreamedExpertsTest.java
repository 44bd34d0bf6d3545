package org.neurotome.model;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A streamed sparse layer reads only the experts its router selected somewhere in the batch,
 * each once, and computes exactly what the kept layer computes: on a small generated Mixtral
 * (16 experts, top 2), the stored bytes read per expert tensor (counted by
 * {@link CountingOverlay}) against the experts the kept forward's routing taps name, and the
 * logits and expert taps of both compared bit for bit.
 */
class StreamedExpertsTest {
    private static final int LAYERS = 2;
    private static final int EXPERTS = 16;
    private static final int HIDDEN = 32;
    private static final int WIDTH = 48;
    /** Six positions route to at most 12 of the 16 experts, so every layer leaves some unread. */
    private static final List<int[]> PROMPTS = List.of(new int[] {1, 17}, new int[] {1, 88}, new int[] {1, 99});

    /** A random float32 Mixtral of {@link #LAYERS} layers with N(0, 0.5²) weights and unit norms. */
    private static Path mixtral(Path dir) throws Exception {
        ObjectNode config = Json.MAPPER.createObjectNode()
                .put("model_type", "mixtral").put("hidden_size", HIDDEN).put("intermediate_size", WIDTH)
                .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("num_hidden_layers", LAYERS)
                .put("max_position_embeddings", 64).put("rms_norm_eps", 1e-5).put("rope_theta", 1e6)
                .put("vocab_size", 128).put("tie_word_embeddings", false).put("hidden_act", "silu")
                .put("num_local_experts", EXPERTS).put("num_experts_per_tok", 2);
        config.putArray("architectures").add("MixtralForCausalLM");
        ModelConfig c = ModelConfig.from(config);
        Architecture arch = c.architecture();
        Map<String, Role> roles = new HashMap<>();
        for (Role r : arch.roles(c)) {
            if (!r.perLayer()) {
                roles.put(arch.tensorName(r), r);
            }
        }
        for (int l = 0; l < LAYERS; l++) {
            for (Architecture.LayerTensor t : arch.layerTensors(c, l)) {
                roles.put(t.name(), t.role());
            }
        }
        Random random = new Random(7);
        List<OutputTensor> tensors = new ArrayList<>();
        for (String name : arch.tensorNames(c)) {
            Role role = roles.get(name);
            long[] shape = arch.shape(role, c);
            float[] v = new float[Math.toIntExact(Weights.numel(shape))];
            boolean norm = role == Role.LN1 || role == Role.LN2 || role == Role.LN_F;
            for (int i = 0; i < v.length; i++) {
                v[i] = norm ? 1f : (float) (random.nextGaussian() * 0.5);
            }
            tensors.add(OutputTensor.ofFloats(name, DType.F32, shape, v));
        }
        new CheckpointWriter(1L << 30, Map.of("format", "pt"), false).write(dir, tensors,
                Map.of(Checkpoint.CONFIG, Json.pretty().writeValueAsString(config).getBytes(StandardCharsets.UTF_8)));
        return dir;
    }

    /** The taps compared between kept and streamed, every sparse layer's, at every position. */
    private static List<String> tapNames() {
        List<String> taps = new ArrayList<>();
        for (int l = 0; l < LAYERS; l++) {
            taps.addAll(List.of(Tap.expertIndices(l), Tap.mlpPost(l), Tap.expertOut(l)));
        }
        return taps;
    }

    private static ForwardRequest request(List<int[]> prompts) {
        return ForwardRequest.tokens(prompts).withTaps(tapNames()).tapAtAllPositions();
    }

    /** What a forward returns that the comparison needs: logits of every row, and the taps. */
    private record Outputs(List<float[]> logits, Map<String, float[]> taps, List<Set<Integer>> chosen) {
        static Outputs of(ForwardResult r, int rows) {
            List<float[]> logits = new ArrayList<>();
            for (int i = 0; i < rows; i++) {
                logits.add(r.lastLogits(i));
            }
            Map<String, float[]> taps = new HashMap<>();
            List<Set<Integer>> chosen = new ArrayList<>();
            for (String t : tapNames()) {
                taps.put(t, r.tap(t).toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
            }
            for (int l = 0; l < LAYERS; l++) {
                Set<Integer> s = new TreeSet<>();
                for (long e : r.tap(Tap.expertIndices(l)).toLongArray()) {
                    s.add((int) e);
                }
                chosen.add(s);
            }
            return new Outputs(logits, taps, chosen);
        }
    }

    private static void assertSame(String what, Outputs kept, Outputs streamed) {
        for (int i = 0; i < kept.logits().size(); i++) {
            assertArrayEquals(kept.logits().get(i), streamed.logits().get(i), what + ": logits of row " + i);
        }
        for (String t : tapNames()) {
            assertArrayEquals(kept.taps().get(t), streamed.taps().get(t), what + ": tap " + t);
        }
    }

    /**
     * Checks the bytes read of every expert tensor since {@code before}: each expert of
     * {@code chosen} (per layer) read once, whole (gate, up and down: 3·I·D float32), no other.
     */
    private static void assertReadOnly(String what, Map<String, Long> before, Map<String, Long> after,
                                       List<Set<Integer>> chosen) {
        for (int l = 0; l < LAYERS; l++) {
            for (int e = 0; e < EXPERTS; e++) {
                long read = 0;
                for (String w : List.of("w1", "w2", "w3")) {
                    String name = "model.layers." + l + ".block_sparse_moe.experts." + e + "." + w + ".weight";
                    read += after.getOrDefault(name, 0L) - before.getOrDefault(name, 0L);
                }
                long expected = chosen.get(l).contains(e) ? 3L * WIDTH * HIDDEN * 4 : 0;
                assertEquals(expected, read, what + ": bytes read of expert " + e + " of layer " + l);
            }
        }
    }

    @Test
    void aStreamedForwardReadsEachRoutedExpertOnceAndNoOther(@TempDir Path tmp) throws Exception {
        Path dir = mixtral(tmp.resolve("mixtral"));
        Outputs kept;
        Outputs keptOne;
        try (Checkpoint ck = Checkpoint.open(dir); Weights w = Weights.load(ck, Device.cpu());
             Transformer t = new Transformer(w)) {
            assertTrue(!w.streaming());
            try (ForwardResult r = t.forward(request(PROMPTS))) {
                kept = Outputs.of(r, PROMPTS.size());
            }
            try (ForwardResult r = t.forward(request(PROMPTS.subList(0, 1)))) {
                keptOne = Outputs.of(r, 1);
            }
        }
        try (Checkpoint ck = Checkpoint.open(dir)) {
            CountingOverlay counting = new CountingOverlay(ck);
            MemoryBudget budget = StreamingTest.tight(ck);
            long expertBytes = 0;
            long layerBytes = 0;
            for (var e : ck.tensors().entrySet()) {
                if (e.getKey().startsWith("model.layers.0.")) {
                    long bytes = 4 * Weights.numel(e.getValue().shape());
                    if (e.getKey().contains(".experts.")) {
                        expertBytes += bytes;
                    } else {
                        layerBytes += bytes;
                    }
                }
            }
            assertEquals(layerBytes, Residency.of(ck, budget).layerBytes(),
                    "a streamed layer's buffer holds the layer without its routed experts");
            assertEquals(EXPERTS * 3L * WIDTH * HIDDEN * 4, expertBytes);
            try (Weights w = Weights.load(ck, Device.cpu(), budget, counting); Transformer t = new Transformer(w)) {
                assertTrue(w.streaming());
                Map<String, Long> before = counting.byTensor();
                try (ForwardResult r = t.forward(request(PROMPTS))) {
                    assertSame("a batch", kept, Outputs.of(r, PROMPTS.size()));
                }
                assertReadOnly("a batch", before, counting.byTensor(), kept.chosen());

                before = counting.byTensor();
                try (ForwardResult r = t.forward(request(PROMPTS.subList(0, 1)))) {
                    assertSame("one prompt", keptOne, Outputs.of(r, 1));
                }
                assertReadOnly("one prompt", before, counting.byTensor(), keptOne.chosen());

                // requests run layer-major read each expert once for all of them, used by each that chose it
                before = counting.byTensor();
                List<ForwardRequest> each = PROMPTS.stream().map(p -> request(List.of(p))).toList();
                List<Outputs> results = new ArrayList<>();
                t.forwardEach(each, (i, r) -> results.add(Outputs.of(r, 1)));
                List<Set<Integer>> union = new ArrayList<>();
                for (int l = 0; l < LAYERS; l++) {
                    Set<Integer> s = new TreeSet<>();
                    for (Outputs o : results) {
                        s.addAll(o.chosen().get(l));
                    }
                    union.add(s);
                }
                assertReadOnly("requests side by side", before, counting.byTensor(), union);
                try (Checkpoint again = Checkpoint.open(dir); Weights kw = Weights.load(again, Device.cpu());
                     Transformer kt = new Transformer(kw)) {
                    for (int i = 0; i < PROMPTS.size(); i++) {
                        try (ForwardResult r = kt.forward(request(List.of(PROMPTS.get(i))))) {
                            assertSame("request " + i + " side by side", Outputs.of(r, 1), results.get(i));
                        }
                    }
                }
            }
        }
    }
}
