package org.neurotome.cna;

import ai.djl.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.arch.Head;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.NormKind;
import org.neurotome.arch.TensorSlice;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.ReferenceData;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Identities CNA must satisfy whatever the weights (docs/method.md A4): ablating a head of layer l
 * changes no neuron below l; a second checkpoint that is the first with a head's output
 * projection zeroed gives the same comparison as ablating that head; comparing a model with
 * itself or a prompt with itself gives zero everywhere; the mean over a data set is the mean
 * of the per-position rankings; and a neuron's top tokens are the vocabulary ranked by
 * {@code W_U·(C(m·value) ⊙ g)}, recomputed here in plain Java.
 */
class ComparisonInvariantsTest {
    private static final int[][] PROMPTS = {{1, 403, 407, 261}, {1, 306, 462, 435, 264}, {1, 9, 40}};

    @Test
    void ablatingAHeadLeavesEveryNeuronBelowItsLayerUnchanged() {
        try (LanguageModel m = LanguageModel.open(ReferenceData.caseDir("stories260K"), Device.cpu());
             VocabularyProjection p = new VocabularyProjection(m.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
            Attribution a = new Attribution(m, p, Attribution.Options.defaults());
            ComparisonResult r = Comparison.headsAblated(a, PromptSet.ofIds(List.of(PROMPTS)), List.of(new Head(3, 5)), true, Scoring.EXHAUSTIVE);
            float[][] diff = r.diff();
            for (int l = 0; l < 3; l++) {
                for (float d : diff[l]) {
                    assertEquals(0f, d, "layer " + l + " lies below the ablated head");
                }
            }
            assertTrue(r.ranked(1).getFirst().diff() > 1e-3, "the ablation must move some neuron of layers 3-4");
            for (int s = 0; s < PROMPTS.length; s++) {
                float[][] ds = new float[diff.length][];
                for (ComparisonResult.NeuronDifference n : r.rankedAt(s, 0)) {
                    if (ds[n.neuron().layer()] == null) {
                        ds[n.neuron().layer()] = new float[diff[0].length];
                    }
                    ds[n.neuron().layer()][n.neuron().neuron()] = (float) n.diff();
                }
                for (int l = 0; l < diff.length; l++) {
                    for (int k = 0; k < diff[l].length; k++) {
                        diff[l][k] -= ds[l][k] / PROMPTS.length;
                    }
                }
            }
            Close.assertAbs("mean diff = mean of the per-position diffs", new float[diff.length * diff[0].length],
                    Close.flat(diff), 1e-6);
        }
    }

    @Test
    void aCheckpointWithAHeadZeroedComparesLikeTheAblatedHead(@TempDir Path tmp) {
        Path source = ReferenceData.caseDir("gpt2_tied");
        Head head = new Head(1, 2);
        Path edited = zeroHead(source, head, tmp.resolve("edited"));
        PromptSet prompts = PromptSet.ofIds(List.of(PROMPTS[2], new int[] {5, 17, 3, 60, 2}));
        try (LanguageModel a = LanguageModel.open(source, Device.cpu());
             LanguageModel b = LanguageModel.open(edited, Device.cpu());
             VocabularyProjection pa = new VocabularyProjection(a.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES);
             VocabularyProjection pb = new VocabularyProjection(b.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
            Attribution attrA = new Attribution(a, pa, Attribution.Options.defaults());
            ComparisonResult byCheckpoint = Comparison.checkpoints(attrA,
                    new Attribution(b, pb, Attribution.Options.defaults()), prompts, false, Scoring.EXHAUSTIVE);
            ComparisonResult byAblation = Comparison.headsAblated(attrA, prompts, List.of(head), false, Scoring.EXHAUSTIVE);
            Close.assertAbs("diff", Close.flat(byAblation.diff()), Close.flat(byCheckpoint.diff()), 1e-5);
            Close.assertAbs("prob_b", byAblation.probB(), byCheckpoint.probB(), 1e-6);
            assertTrue(byCheckpoint.ranked(1).getFirst().diff() > 1e-3, "zeroing the head must move some neuron");

            ComparisonResult itself = Comparison.checkpoints(attrA, attrA, prompts, false, Scoring.EXHAUSTIVE);
            Close.assertAbs("a model against itself", new float[itself.diff().length * itself.diff()[0].length],
                    Close.flat(itself.diff()), 0);
            ComparisonResult samePrompt = Comparison.contrast(attrA, prompts, prompts, false, Scoring.EXHAUSTIVE);
            Close.assertAbs("a prompt against itself", new float[samePrompt.diff().length * samePrompt.diff()[0].length],
                    Close.flat(samePrompt.diff()), 0);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_odd_untied", "llama_gqa_tied_bf16", "gptj_partial_rotary", "gpt_neox_parallel",
            "gemma2_softcap_window", "phi3_fused", "olmo2", "gemma3_text"})
    void topTokensRankTheVocabularyByTheNormedSignedValueVector(String name) {
        try (LanguageModel m = LanguageModel.open(ReferenceData.caseDir(name), Device.cpu());
             VocabularyProjection p = new VocabularyProjection(m.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
            ModelConfig c = m.config();
            int d = c.hiddenSize();
            float[] unembed = m.weights().unembed().toFloatArray();
            float[] g = m.weights().finalNormWeight().toFloatArray();
            boolean plusOne = m.weights().architecture().normPlusOne();   // Gemma 2 scales by 1 + w
            List<Neuron> neurons = List.of(new Neuron(0, 3), new Neuron(c.numLayers() - 1, c.ffnSize() - 1));
            double[] coefs = {-2.5, 0.7};
            int[][] top = p.valueTopTokens(neurons, coefs, 10);
            for (int i = 0; i < neurons.size(); i++) {
                Neuron n = neurons.get(i);
                float[] value;
                try (var values = m.weights().ffnValues(n.layer()); var layer = m.weights().layer(n.layer())) {
                    value = values.get().get(n.neuron()).toFloatArray();
                    if (layer.get().ln2Post() != null) {
                        // Gemma 2, OLMo 2: the value reaches the residual through the post-FFN norm's gain
                        float[] post = layer.get().ln2Post().toFloatArray();
                        for (int j = 0; j < d; j++) {
                            value[j] *= plusOne ? 1 + post[j] : post[j];
                        }
                    }
                }
                double mean = 0;
                if (m.weights().normKind() == NormKind.LAYERNORM) {
                    for (float v : value) {
                        mean += v / d;
                    }
                }
                double[] score = new double[c.vocabSize()];
                for (int t = 0; t < score.length; t++) {
                    for (int j = 0; j < d; j++) {
                        score[t] += unembed[t * d + j] * coefs[i] * (value[j] - mean) * (plusOne ? 1 + g[j] : g[j]);
                    }
                }
                int[] expected = IntStream.range(0, score.length).boxed()
                        .sorted(Comparator.comparingDouble((Integer t) -> -score[t])).limit(10)
                        .mapToInt(Integer::intValue).toArray();
                assertArrayEquals(expected, top[i], name + " neuron " + n);
            }
        }
    }

    /** A copy of {@code source} with {@code head}'s slice of the output projection set to zero. */
    private static Path zeroHead(Path source, Head head, Path out) {
        try (Checkpoint ck = Checkpoint.open(source)) {
            ModelConfig c = ModelConfig.from(ck.config());
            List<TensorSlice> slices = new HeadLayout(c.architecture(), c).outputSlices(head.layer(), head.head());
            List<OutputTensor> tensors = new ArrayList<>();
            for (String name : ck.tensors().keySet()) {
                float[] v = ck.floats(name);
                long[] shape = ck.info(name).shape();
                for (TensorSlice s : slices) {
                    if (s.tensor().equals(name)) {
                        int cols = (int) shape[1];
                        for (int i = 0; i < v.length; i++) {
                            long idx = s.axis() == 0 ? i / cols : i % cols;
                            if (idx >= s.start() && idx < s.end()) {
                                v[i] = 0f;
                            }
                        }
                    }
                }
                tensors.add(OutputTensor.ofFloats(name, DType.F32, shape, v));
            }
            new CheckpointWriter(1L << 30, Map.of("format", "pt"), false).write(out, tensors,
                    Map.of(Checkpoint.CONFIG, Files.readAllBytes(source.resolve(Checkpoint.CONFIG))));
            return out;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
