package org.neurotome.surgery;

import org.neurotome.arch.LayerRange;

import ai.djl.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Neuron;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.HeadScale;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.NeuronScale;
import org.neurotome.model.Tap;

import java.lang.foreign.ValueLayout;
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
 * Each edit touches exactly the tensors, rows and columns it should, and a forward of the
 * written model equals the same forward of the original with the matching runtime
 * intervention (docs/method.md A5: "edits are exact").
 */
class EditsTest {
    private static final Path REFERENCE = Path.of("src/test/resources/reference");
    private static final int[] PROMPT = {3, 17, 5, 9, 2, 11, 4};

    @TempDir
    Path tmp;

    private Path write(String model, List<Edit> edits) {
        Path out = tmp.resolve(model + "-" + System.nanoTime());
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve(model))) {
            Surgeon.apply(ck, edits, new Surgeon.Options(out, null, Long.MAX_VALUE, false, Map.of(), Map.of(), Map.of()));
        }
        return out;
    }

    private static float[] logits(Path model, List<HeadScale> heads, List<NeuronScale> neurons) {
        try (LanguageModel m = LanguageModel.open(model, Device.cpu());
             ForwardResult r = m.transformer().forward(ForwardRequest.tokens(PROMPT).withHeadScales(heads).withNeuronScales(neurons))) {
            return r.lastLogits(0);
        }
    }

    private static void assertClose(float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol, "logit " + i);
        }
    }

    /** Names of the tensors whose bytes differ between two checkpoints. */
    private static Set<String> changedTensors(Path a, Path b) {
        Set<String> changed = new TreeSet<>();
        try (Checkpoint x = Checkpoint.open(a); Checkpoint y = Checkpoint.open(b)) {
            for (String n : x.tensors().keySet()) {
                if (!Arrays.equals(x.bytes(n).toArray(ValueLayout.JAVA_BYTE), y.bytes(n).toArray(ValueLayout.JAVA_BYTE))) {
                    changed.add(n);
                }
            }
        }
        return changed;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_tied", "llama_gqa_tied_bf16", "qwen2_bias", "gptj_partial_rotary", "llama_sharded_f16",
            "gpt_neox_parallel", "qwen3_qk_norm", "gemma2_softcap_window", "phi3_fused", "olmo2", "gemma3_text",
            "mixtral_moe", "qwen2_moe_shared", "qwen3_moe", "olmoe_clip"})
    void zeroHeadsEqualsTheHeadAblationIntervention(String model) {
        Path out = write(model, List.of(new ZeroHeads(List.of(new Head(1, 2), new Head(0, 1)))));
        float[] expected = logits(REFERENCE.resolve(model), List.of(new HeadScale(0, 1, 2, 0f), new HeadScale(0, 0, 1, 0f)), List.of());
        assertClose(expected, logits(out, List.of(), List.of()), 1e-5);
        Set<String> changed = changedTensors(REFERENCE.resolve(model), out);
        assertTrue(changed.stream().allMatch(n -> n.contains(".0.") || n.contains(".1.")), changed.toString());
        assertTrue(changed.stream().noneMatch(n -> n.contains("mlp") || n.contains("norm") || n.contains("ln_")), changed.toString());
    }

    @Test
    void zeroHeadsKeepsASharedKeyValueGroupUntilAllItsHeadsAreZeroed() {
        // llama_gqa_tied_bf16: 6 query heads share 2 kv heads (3 per group)
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("llama_gqa_tied_bf16"))) {
            List<TensorEdit> partial = Surgeon.lower(ck, List.of(new ZeroHeads(List.of(new Head(0, 0), new Head(0, 1))))).tensorEdits();
            assertTrue(partial.stream().noneMatch(e -> e.tensor().contains("k_proj") || e.tensor().contains("v_proj")),
                    "a group another head still reads is untouched");
            List<TensorEdit> whole = Surgeon.lower(ck, List.of(new ZeroHeads(List.of(new Head(0, 0), new Head(0, 1), new Head(0, 2))))).tensorEdits();
            TensorEdit k = whole.stream().filter(e -> e.tensor().contains("k_proj")).findFirst().orElseThrow();
            assertEquals(0, k.axis());
            assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, k.indices(), "kv head 0's 8 rows");
            TensorEdit o = whole.stream().filter(e -> e.tensor().contains("o_proj")).findFirst().orElseThrow();
            assertEquals(1, o.axis(), "o_proj columns");
            assertEquals(24, o.indices().length);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_odd_untied", "llama_gqa_tied_bf16", "gptj_partial_rotary", "mistral",
            "gpt_neox_parallel", "qwen3_qk_norm", "gemma2_softcap_window", "phi3_fused", "olmo2", "gemma3_text",
            "mixtral_moe", "qwen2_moe_shared", "qwen3_moe", "olmoe_clip"})
    void zeroAndScaleNeuronsEqualTheNeuronInterventions(String model) {
        Path zeroed = write(model, List.of(new ZeroNeurons(List.of(new Neuron(0, 3), new Neuron(1, 7)))));
        float[] expected = logits(REFERENCE.resolve(model), List.of(),
                List.of(new NeuronScale(0, 0, 3, 0f), new NeuronScale(0, 1, 7, 0f)));
        assertClose(expected, logits(zeroed, List.of(), List.of()), 1e-5);
        try (LanguageModel m = LanguageModel.open(zeroed, Device.cpu());
             ForwardResult r = m.transformer().forward(ForwardRequest.tokens(PROMPT).withTaps(Tap.mlpPost(0)).tapAtAllPositions())) {
            float[] coef = r.tap(Tap.mlpPost(0)).toFloatArray();
            int ffn = m.config().ffnWidth(0);
            for (int p = 0; p < PROMPT.length; p++) {
                assertEquals(0f, coef[p * ffn + 3], "m_3 of layer 0 is exactly 0 at position " + p);
            }
        }
        Path scaled = write(model, List.of(new ScaleNeurons(List.of(new Neuron(1, 2)), 0.5f)));
        assertClose(logits(REFERENCE.resolve(model), List.of(), List.of(new NeuronScale(0, 1, 2, 0.5f))),
                logits(scaled, List.of(), List.of()), 1e-5);
    }

    /**
     * Expert neurons edit as the reference numbers them: neuron e·I + j is unit j of expert e
     * (its gate and up rows, its down column), the shared expert's units last, and an edited
     * checkpoint equals the neuron intervention.
     */
    @Test
    void expertNeuronsAreTheExpertsUnits() {
        String model = "qwen2_moe_shared";   // 8 experts of 12 units, a shared expert of 24; layer 1 dense
        List<Neuron> neurons = List.of(new Neuron(0, 3 * 12 + 5), new Neuron(0, 8 * 12 + 20), new Neuron(2, 7 * 12));
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve(model))) {
            List<String> touched = Surgeon.lower(ck, List.of(new ZeroNeurons(neurons))).tensorEdits().stream()
                    .map(e -> e.tensor() + "/" + e.axis() + "/" + Arrays.toString(e.indices())).sorted().toList();
            assertEquals(List.of(
                    "model.layers.0.mlp.experts.3.down_proj.weight/1/[5]",
                    "model.layers.0.mlp.experts.3.gate_proj.weight/0/[5]",
                    "model.layers.0.mlp.experts.3.up_proj.weight/0/[5]",
                    "model.layers.0.mlp.shared_expert.down_proj.weight/1/[20]",
                    "model.layers.0.mlp.shared_expert.gate_proj.weight/0/[20]",
                    "model.layers.0.mlp.shared_expert.up_proj.weight/0/[20]",
                    "model.layers.2.mlp.experts.7.down_proj.weight/1/[0]",
                    "model.layers.2.mlp.experts.7.gate_proj.weight/0/[0]",
                    "model.layers.2.mlp.experts.7.up_proj.weight/0/[0]"), touched);
        }
        Path zeroed = write(model, List.of(new ZeroNeurons(neurons)));
        List<NeuronScale> scales = neurons.stream().map(n -> new NeuronScale(0, n.layer(), n.neuron(), 0f)).toList();
        assertClose(logits(REFERENCE.resolve(model), List.of(), scales), logits(zeroed, List.of(), List.of()), 1e-5);
    }

    @Test
    void keepNeuronsZeroesEverythingElseInTheRange() {
        Path out = write("stories260K", List.of(new KeepNeurons(List.of(new Neuron(3, 5), new Neuron(4, 100)), new LayerRange(3, 4))));
        List<NeuronScale> scales = new ArrayList<>();
        for (int l = 3; l <= 4; l++) {
            for (int k = 0; k < 172; k++) {
                if (!(l == 3 && k == 5) && !(l == 4 && k == 100)) {
                    scales.add(new NeuronScale(0, l, k, 0f));
                }
            }
        }
        assertClose(logits(REFERENCE.resolve("stories260K"), List.of(), scales), logits(out, List.of(), List.of()), 1e-5);
        assertTrue(changedTensors(REFERENCE.resolve("stories260K"), out).stream().allMatch(n -> n.contains("layers.3.") || n.contains("layers.4.")));
    }

    @Test
    void keepHeadsZeroesTheOtherHeadsOfTheRange() {
        Path out = write("stories260K", List.of(new KeepHeads(List.of(new Head(2, 1)), new LayerRange(2, 2))));
        List<HeadScale> scales = new ArrayList<>();
        for (int h = 0; h < 8; h++) {
            if (h != 1) {
                scales.add(new HeadScale(0, 2, h, 0f));
            }
        }
        assertClose(logits(REFERENCE.resolve("stories260K"), scales, List.of()), logits(out, List.of(), List.of()), 1e-5);
    }

    @Test
    void compactRemovesZeroedNeuronsAndHeadsWithoutChangingTheFunction() {
        List<Edit> zero = List.of(new ZeroNeurons(List.of(new Neuron(0, 3), new Neuron(0, 9), new Neuron(1, 20))),
                new ZeroHeads(List.of(new Head(0, 1), new Head(1, 3))));
        Path edited = write("llama_sharded_f16", zero);
        List<Edit> compacting = new ArrayList<>(zero);
        compacting.add(new Compact(true, true, true));
        Path compacted = write("llama_sharded_f16", compacting);
        try (Checkpoint c = Checkpoint.open(compacted)) {
            ModelConfig mc = ModelConfig.from(c.config());
            assertEquals(55, mc.ffnSize(), "layer 0 keeps 54 of 56, layer 1 keeps 55: width 55, layer 0 padded with a zero neuron");
            assertEquals(3, mc.numHeads());
            assertEquals(8, mc.headDim());
            assertTrue(c.hasFile(Manifest.FILE));
        }
        assertClose(logits(edited, List.of(), List.of()), logits(compacted, List.of(), List.of()), 1e-5);
    }

    /** keep-heads and keep-neurons on each newer family: the written model equals zeroing all the others. */
    @ParameterizedTest
    @ValueSource(strings = {"gpt_neox_parallel", "qwen3_qk_norm", "gemma2_softcap_window", "phi3_fused", "olmo2",
            "gemma3_text"})
    void keepHeadsAndKeepNeuronsEqualTheInterventions(String model) {
        ModelConfig c = config(model);
        int last = c.numLayers() - 1;
        Path heads = write(model, List.of(new KeepHeads(List.of(new Head(last, 1)), new LayerRange(last, last))));
        List<HeadScale> headScales = new ArrayList<>();
        for (int h = 0; h < c.numHeads(); h++) {
            if (h != 1) {
                headScales.add(new HeadScale(0, last, h, 0f));
            }
        }
        assertClose(logits(REFERENCE.resolve(model), headScales, List.of()), logits(heads, List.of(), List.of()), 1e-5);
        assertTrue(changedTensors(REFERENCE.resolve(model), heads).stream().allMatch(n -> n.contains("." + last + ".")));

        Path neurons = write(model, List.of(new KeepNeurons(List.of(new Neuron(0, 3), new Neuron(0, 10)), new LayerRange(0, 0))));
        List<NeuronScale> neuronScales = new ArrayList<>();
        for (int k = 0; k < c.ffnSize(); k++) {
            if (k != 3 && k != 10) {
                neuronScales.add(new NeuronScale(0, 0, k, 0f));
            }
        }
        assertClose(logits(REFERENCE.resolve(model), List.of(), neuronScales), logits(neurons, List.of(), List.of()), 1e-5);
        assertTrue(changedTensors(REFERENCE.resolve(model), neurons).stream().allMatch(n -> n.contains(".0.")));
    }

    /**
     * compact on the families with separate q, k and v (Qwen3's q/k norms and Gemma 2's
     * post-norms stay as they are): whole key/value groups and zeroed neurons go, the function stays.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qwen3_qk_norm", "gemma2_softcap_window", "gemma3_text"})
    void compactRemovesHeadGroupsAndNeuronsOfTheNewerFamilies(String model) {
        ModelConfig c = config(model);
        List<Head> group0 = new ArrayList<>();
        List<Neuron> neurons = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            group0.addAll(List.of(new Head(l, 0), new Head(l, 1)));  // query heads 0 and 1 read kv head 0
            neurons.addAll(List.of(new Neuron(l, 3), new Neuron(l, 9 + l)));
        }
        List<Edit> zero = List.of(new ZeroHeads(group0), new ZeroNeurons(neurons));
        Path edited = write(model, zero);
        List<Edit> compacting = new ArrayList<>(zero);
        compacting.add(new Compact(true, true, false));
        Path compacted = write(model, compacting);
        try (Checkpoint ck = Checkpoint.open(compacted)) {
            ModelConfig mc = ModelConfig.from(ck.config());
            assertEquals(c.numHeads() - 2, mc.numHeads());
            assertEquals(c.numKvHeads() - 1, mc.numKvHeads());
            assertEquals(c.headDim(), mc.headDim());
            assertEquals(c.ffnSize() - 2, mc.ffnSize());
            assertEquals(c.features(), mc.features(), "soft-caps, query scalar and rope settings are kept");
        }
        assertClose(logits(edited, List.of(), List.of()), logits(compacted, List.of(), List.of()), 1e-5);
    }

    /**
     * compact on the fused qkv families: neurons go (Phi-3's gate_up_proj loses rows k and I + k);
     * heads are refused with the reason.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt_neox_parallel", "phi3_fused"})
    void compactRemovesNeuronsAndRefusesHeadsOfAFusedQkv(String model) {
        ModelConfig c = config(model);
        List<Neuron> neurons = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            neurons.addAll(List.of(new Neuron(l, 3), new Neuron(l, 20 + l)));
        }
        Path edited = write(model, List.of(new ZeroNeurons(neurons)));
        Path compacted = write(model, List.of(new ZeroNeurons(neurons), new Compact(true, true, false)));
        try (Checkpoint ck = Checkpoint.open(compacted)) {
            assertEquals(c.ffnSize() - 2, ModelConfig.from(ck.config()).ffnSize());
        }
        assertClose(logits(edited, List.of(), List.of()), logits(compacted, List.of(), List.of()), 1e-5);
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve(model))) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> Surgeon.lower(ck,
                    List.of(new ZeroHeads(List.of(new Head(0, 0))), new Compact(false, true, false))));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode());
            assertTrue(e.getMessage().contains("fused matrix") && e.getMessage().contains(model.startsWith("phi3")
                    ? "qkv_proj" : "query_key_value"), e.getMessage());
        }
    }

    /**
     * compact on OLMo 2: neurons go (the post-FFN norm sees the same output), and heads are refused,
     * since its q/k norms over the whole projection would renormalise every remaining head.
     */
    @Test
    void compactRemovesNeuronsAndRefusesHeadsUnderWholeProjectionQkNorms() {
        ModelConfig c = config("olmo2");
        List<Neuron> neurons = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            neurons.addAll(List.of(new Neuron(l, 5), new Neuron(l, 30 + l)));
        }
        Path edited = write("olmo2", List.of(new ZeroNeurons(neurons)));
        Path compacted = write("olmo2", List.of(new ZeroNeurons(neurons), new Compact(true, false, false)));
        try (Checkpoint ck = Checkpoint.open(compacted)) {
            assertEquals(c.ffnSize() - 2, ModelConfig.from(ck.config()).ffnSize());
        }
        assertClose(logits(edited, List.of(), List.of()), logits(compacted, List.of(), List.of()), 1e-5);
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("olmo2"))) {
            List<Head> group = List.of(new Head(0, 0), new Head(0, 1), new Head(1, 0), new Head(1, 1));
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> Surgeon.lower(ck,
                    List.of(new ZeroHeads(group), new Compact(false, true, false))));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode());
            assertTrue(e.getMessage().contains("q_norm") && e.getMessage().contains("whole q and k projections"),
                    e.getMessage());
        }
    }

    private static ModelConfig config(String model) {
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve(model))) {
            return ModelConfig.from(ck.config());
        }
    }

    @Test
    void compactWithoutPaddingRefusesUnequalLayers() {
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("llama_sharded_f16"))) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> Surgeon.lower(ck,
                    List.of(new ZeroNeurons(List.of(new Neuron(0, 3))), new Compact(true, false, false))));
            assertTrue(e.getMessage().contains("layer 0 keeps 55 FFN neurons but layer 1 keeps 56"), e.getMessage());
            assertEquals(55, ModelConfig.from(Surgeon.lower(ck, List.of(new ZeroNeurons(List.of(new Neuron(0, 3), new Neuron(1, 4))),
                    new Compact(true, false, false))).config()).ffnSize());
        }
    }

    @Test
    void compactRefusesHeadsItCannotRemoveWithAReason() {
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("gpt2_tied"))) {
            NeurotomeException e = assertThrows(NeurotomeException.class,
                    () -> Surgeon.lower(ck, List.of(new ZeroHeads(List.of(new Head(0, 1))), new Compact(true, true, true))));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode());
            assertTrue(e.getMessage().contains("fused matrix"), e.getMessage());
        }
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("llama_sharded_f16"))) {
            NeurotomeException e = assertThrows(NeurotomeException.class,
                    () -> Surgeon.lower(ck, List.of(new ZeroHeads(List.of(new Head(0, 1))), new Compact(false, true, false))));
            assertTrue(e.getMessage().contains("different numbers of head groups"), e.getMessage());
        }
    }

    @Test
    void keepingOnlyHeadsOrNeuronsOutsideTheLayersIsRefusedNotAWipe() {
        NeurotomeException heads = assertThrows(NeurotomeException.class,
                () -> write("stories260K", List.of(new KeepHeads(List.of(new Head(0, 1), new Head(1, 2)),
                        new LayerRange(3, 4)))));
        assertEquals(ExitCode.BAD_INPUT, heads.exitCode());
        assertTrue(heads.getMessage().startsWith("keep-heads: none of its 2 heads ([0.1, 1.2]) lies in layers 3-4"),
                heads.getMessage());
        NeurotomeException neurons = assertThrows(NeurotomeException.class,
                () -> write("stories260K", List.of(new KeepNeurons(List.of(new Neuron(0, 1)), new LayerRange(2, null)))));
        assertTrue(neurons.getMessage().startsWith("keep-neurons: none of its 1 neurons lies in layers 2-4"),
                neurons.getMessage());
    }
}
