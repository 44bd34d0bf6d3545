package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.NeuronLayout;
import org.neurotome.arch.TensorSlice;
import org.neurotome.checkpoint.Checkpoint;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.neurotome.model.ReferenceConformanceTest.assertClose;

/**
 * Identities the forward pass must satisfy whatever the weights (TransformerLens
 * {@code tests/unit/test_use_attn_result.py} and docs/method.md A1/A3/A5): per-head results sum
 * to the attention output, an intervention equals the corresponding weight edit located
 * through {@link HeadLayout}/{@link NeuronLayout}, padding and batching change nothing, and
 * a forward resumed from a recorded residual equals the full one.
 */
class ForwardInvariantsTest {
    private static final int[][] PROMPTS = {{3, 17, 5, 9, 2, 11, 4}, {8, 1, 6}, {12}};

    private static Checkpoint open(String name) {
        return Checkpoint.open(ReferenceData.caseDir(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_odd_untied", "llama_gqa_tied_bf16", "qwen2_bias", "gptj_partial_rotary",
            "gpt_neox_parallel", "qwen3_qk_norm", "gemma2_softcap_window", "phi3_fused", "olmo2", "gemma3_text"})
    void headResultsSumToAttentionOutputAtEveryPosition(String name) {
        try (Checkpoint ckpt = open(name); Weights w = Weights.load(ckpt, Device.cpu()); Transformer t = new Transformer(w)) {
            int layers = w.config().numLayers();
            List<String> taps = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                taps.add(Tap.attnResult(l));
                taps.add(Tap.attnOut(l));
            }
            try (ForwardResult r = t.forward(ForwardRequest.tokens(PROMPTS).withTaps(taps).tapAtAllPositions())) {
                for (int l = 0; l < layers; l++) {
                    NDArray sum = r.tap(Tap.attnResult(l)).sum(new int[] {2});                 // [B, S, D]
                    NDArray bias;
                    try (var layer = w.layer(l)) {
                        bias = layer.get().oBias();
                    }
                    if (bias != null) {
                        sum = sum.add(bias);
                    }
                    assertClose(name + " layer " + l, r.tap(Tap.attnOut(l)).toFloatArray(), sum.toFloatArray(), 1e-5,
                            true);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_tied", "llama_gqa_tied_bf16", "mistral", "gptj_partial_rotary", "gpt_neox_parallel",
            "qwen3_qk_norm", "gemma2_softcap_window", "phi3_fused", "olmo2", "gemma3_text"})
    void headAblationEqualsZeroingItsOutputProjectionSlice(String name) {
        try (Checkpoint ckpt = open(name); Weights w = Weights.load(ckpt, Device.cpu()); Transformer t = new Transformer(w)) {
            ModelConfig c = w.config();
            int layer = c.numLayers() - 1;
            int head = c.numHeads() - 1;
            List<TensorSlice> slices = new HeadLayout(w.architecture(), c).outputSlices(layer, head);
            float[] ablated;
            try (ForwardResult r = t.forward(ForwardRequest.tokens(PROMPTS[0])
                    .withHeadScales(List.of(new HeadScale(0, layer, head, 0f))))) {
                ablated = r.lastLogits(0);
            }
            float[] edited = logitsWithZeroed(ckpt, w, slices, PROMPTS[0]);
            float[] original;
            try (ForwardResult r = t.forward(ForwardRequest.tokens(PROMPTS[0]))) {
                original = r.lastLogits(0);
            }
            assertClose(name + " ablated vs edited", edited, ablated, 1e-5, true);
            assertDiffer(name + " ablation must change the logits", original, ablated);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_odd_untied", "llama_sharded_f16", "gptj_partial_rotary", "gpt_neox_parallel",
            "gemma2_softcap_window", "phi3_fused", "olmo2", "gemma3_text"})
    void neuronScaleZeroEqualsZeroingItsValueVector(String name) {
        try (Checkpoint ckpt = open(name); Weights w = Weights.load(ckpt, Device.cpu()); Transformer t = new Transformer(w)) {
            ModelConfig c = w.config();
            int layer = 0;
            int neuron = c.ffnSize() / 2;
            TensorSlice slice = new NeuronLayout(w.architecture(), c).valueSlice(layer, neuron);
            float[] scaled;
            try (ForwardResult r = t.forward(ForwardRequest.tokens(PROMPTS[0])
                    .withNeuronScales(List.of(new NeuronScale(0, layer, neuron, 0f))))) {
                scaled = r.lastLogits(0);
            }
            assertClose(name, logitsWithZeroed(ckpt, w, List.of(slice), PROMPTS[0]), scaled, 1e-5, true);
        }
    }

    /**
     * Within 1e-5·max(1, max |vector|): the BLAS picks kernels by matrix size, so a row
     * computed in a batch of 21 positions rounds differently from the same row alone, by a
     * few float32 ulps of a logit vector whose entries reach 10–17 here (measured: at most
     * 1.9e-5 absolute, on stories260K).
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2_tied", "llama_gqa_tied_bf16", "qwen2_bias", "gptj_partial_rotary", "stories260K",
            "gpt_neox_parallel", "qwen3_qk_norm", "gemma2_softcap_window", "phi3_fused", "llama3_rope_scaling",
            "mistral_short_window", "olmo2", "gemma3_text"})
    void paddedBatchWithPerRowInterventionsEqualsRowsAlone(String name) {
        try (Checkpoint ckpt = open(name); Weights w = Weights.load(ckpt, Device.cpu()); Transformer t = new Transformer(w)) {
            ModelConfig c = w.config();
            List<HeadScale> heads = List.of(new HeadScale(1, 0, 1, 0f), new HeadScale(2, c.numLayers() - 1, 0, 0.5f));
            List<NeuronScale> neurons = List.of(new NeuronScale(0, 0, 3, 0f), new NeuronScale(1, 0, 5, 2f));
            try (ForwardResult batch = t.forward(ForwardRequest.tokens(PROMPTS).withHeadScales(heads)
                    .withNeuronScales(neurons).withTaps(Tap.mlpPost(0), Tap.residPost(0)))) {
                for (int row = 0; row < PROMPTS.length; row++) {
                    int r0 = row;
                    List<HeadScale> h = heads.stream().filter(s -> s.row() == r0)
                            .map(s -> new HeadScale(0, s.layer(), s.head(), s.factor())).toList();
                    List<NeuronScale> n = neurons.stream().filter(s -> s.row() == r0)
                            .map(s -> new NeuronScale(0, s.layer(), s.neuron(), s.factor())).toList();
                    try (ForwardResult alone = t.forward(ForwardRequest.tokens(PROMPTS[row]).withHeadScales(h)
                            .withNeuronScales(n).withTaps(Tap.mlpPost(0), Tap.residPost(0)))) {
                        String at = name + " row " + row;
                        assertScaled(at + " logits", alone.lastLogits(0), batch.lastLogits(row), 1e-5);
                        assertScaled(at + " mlp_post", alone.tap(Tap.mlpPost(0)).get(0).toFloatArray(),
                                batch.tap(Tap.mlpPost(0)).get(row).toFloatArray(), 1e-5);
                        assertScaled(at + " resid_post", alone.tap(Tap.residPost(0)).get(0).toFloatArray(),
                                batch.tap(Tap.residPost(0)).get(row).toFloatArray(), 1e-5);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_odd_untied", "stories260K", "gptj_partial_rotary", "gpt_neox_parallel",
            "gemma2_softcap_window", "olmo2", "gemma3_text"})
    void forwardFromARecordedResidualEqualsTheFullForward(String name) {
        try (Checkpoint ckpt = open(name); Weights w = Weights.load(ckpt, Device.cpu()); Transformer t = new Transformer(w)) {
            int layer = w.config().numLayers() - 2;
            int[] prompt = PROMPTS[0];
            List<HeadScale> ablate = List.of(new HeadScale(1, layer + 1, 0, 0f));
            try (ForwardResult full = t.forward(ForwardRequest.tokens(prompt, prompt).withHeadScales(ablate)
                    .withTaps(Tap.residPre(layer)).tapAtAllPositions())) {
                NDArray resid = full.tap(Tap.residPre(layer));                                 // [2, S, D]
                float[] before = resid.toFloatArray();
                try (ForwardResult resumed = t.forward(ForwardRequest.fromResidual(layer, resid,
                        new int[] {prompt.length, prompt.length}).withHeadScales(ablate));
                     ForwardResult last = t.forward(ForwardRequest.tokens(prompt, prompt).withTaps(Tap.residPre(layer)))) {
                    assertAbs(name + " plain row", full.lastLogits(0), resumed.lastLogits(0), 1e-6);
                    assertAbs(name + " ablated row", full.lastLogits(1), resumed.lastLogits(1), 1e-6);
                    assertDiffer(name + " ablation must change the logits", full.lastLogits(0), full.lastLogits(1));
                    assertAbs(name + " last-position tap equals the all-position tap there",
                            resid.get(0).get(prompt.length - 1).toFloatArray(),
                            last.tap(Tap.residPre(layer)).get(0).toFloatArray(), 0);
                }
                assertAbs(name + " the caller's residual is untouched", before, resid.toFloatArray(), 0);
            }
        }
    }

    /**
     * Mistral's sliding window: with a window of 2, each layer reaches one position further
     * back, so after 2 layers the last of 8 positions depends on positions 5–7 only; without
     * a window it depends on all of them.
     */
    @org.junit.jupiter.api.Test
    void slidingWindowLimitsHowFarBackEachLayerReads() {
        try (Checkpoint ckpt = open("mistral"); NDManager m = NDManager.newBaseManager(Device.cpu())) {
            ModelConfig full = ModelConfig.from(ckpt.config());
            ModelConfig c = new ModelConfig(full.modelType(), full.numLayers(), full.numHeads(), full.numKvHeads(),
                    full.headDim(), full.hiddenSize(), full.ffnSize(), full.vocabSize(), full.maxPositions(),
                    full.normEps(), full.ropeTheta(), full.rotaryDim(), 2, full.activation(), full.tied(),
                    full.attentionBias(), full.mlpBias(), full.bosTokenId(), full.eosTokenIds());
            int[] a = {3, 17, 5, 9, 2, 11, 4, 7};
            int[] b = {40, 41, 42, 43, 44, 11, 4, 7};
            try (Weights windowed = Weights.fromTensors(m, c, Architecture.forCheckpoint(ckpt), ckpt::floats);
                 Transformer tw = new Transformer(windowed);
                 Weights unlimited = Weights.load(ckpt, Device.cpu()); Transformer tu = new Transformer(unlimited);
                 ForwardResult wr = tw.forward(ForwardRequest.tokens(a, b));
                 ForwardResult ur = tu.forward(ForwardRequest.tokens(a, b))) {
                assertAbs("windowed: positions 0-4 are out of reach", wr.lastLogits(0), wr.lastLogits(1), 1e-5);
                assertDiffer("unlimited: position 0-4 matter", ur.lastLogits(0), ur.lastLogits(1));
            }
        }
    }

    /** Logits of {@code prompt} with the given checkpoint slices set to zero, loaded as new weights. */
    private static float[] logitsWithZeroed(Checkpoint ckpt, Weights w, List<TensorSlice> slices, int[] prompt) {
        Map<String, float[]> edited = new HashMap<>();
        for (TensorSlice s : slices) {
            float[] v = edited.computeIfAbsent(s.tensor(), ckpt::floats);
            zero(v, ckpt.info(s.tensor()).shape(), s);
        }
        Architecture arch = w.architecture();
        Function<String, float[]> source = n -> edited.containsKey(n) ? edited.get(n) : ckpt.floats(n);
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
             Weights ew = Weights.fromTensors(m, w.config(), arch, source); Transformer et = new Transformer(ew);
             ForwardResult r = et.forward(ForwardRequest.tokens(prompt))) {
            return r.lastLogits(0);
        }
    }

    /** Zeroes {@code s} of a row-major tensor of {@code shape} (1-D or 2-D). */
    static void zero(float[] v, long[] shape, TensorSlice s) {
        if (shape.length == 1) {
            java.util.Arrays.fill(v, (int) s.start(), (int) s.end(), 0f);
            return;
        }
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int idx = s.axis() == 0 ? r : c;
                if (idx >= s.start() && idx < s.end()) {
                    v[r * cols + c] = 0f;
                }
            }
        }
    }

    static void assertAbs(String what, float[] expected, float[] actual, double tol) {
        assertClose(what, expected, actual, Math.max(tol, Double.MIN_VALUE), false);
    }

    /** |expected − actual| ≤ tol·max(1, max |expected|) elementwise. */
    static void assertScaled(String what, float[] expected, float[] actual, double tol) {
        double scale = 1;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        assertClose(what, expected, actual, tol * scale, false);
    }

    private static void assertDiffer(String what, float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        org.junit.jupiter.api.Assertions.assertTrue(max > 1e-4, what + " (max difference " + max + ")");
    }
}
