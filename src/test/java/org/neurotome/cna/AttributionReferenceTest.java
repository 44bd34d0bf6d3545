package org.neurotome.cna;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.arch.NormKind;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.ReferenceData;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every reference case and prompt (test resources {@code reference/}, README "Conventions"):
 * the target is the model's top-1, the frozen {@code final_var} matches, and the
 * log-probability increase of every FFN neuron and every head, with the base log-probabilities,
 * equals the reference within 1e-4 on both neuron paths; the value-projection path equals the
 * one-projection-per-neuron path within 1e-5. The layer scores chain: the attention layer's
 * increase leads from the head base to the neuron base of its layer, the FFN layer's from
 * there to the next layer's head base, and for RMSNorm models (whose frozen projection of
 * the final residual is the model's own logits) the last FFN ends at the reference logits'
 * log-probability of the target. Attribution's top 20 neurons found by bounds (a mixture of experts' too) are the
 * reference's top 20 (a neuron within 2e-4 of the 20th may take the place of another), each
 * with the reference's increase within 1e-4.
 */
class AttributionReferenceTest {
    private static final int TOP = 20;
    private static final double TOLERANCE = 1e-4;

    static List<String> cases() {
        return ReferenceData.caseNames();
    }

    private static double logSoftmax(float[] logits, int i) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return logits[i] - max - Math.log(sum);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void increasesMatchTheReferenceOnBothNeuronPaths(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        List<int[]> contexts = new ArrayList<>();
        prompts.forEach(p -> contexts.add(ReferenceData.ints(p.path("ids"))));
        int[] topOne = new int[contexts.size()];
        java.util.Arrays.fill(topOne, -1);
        try (LanguageModel model = LanguageModel.open(ReferenceData.caseDir(name), Device.cpu());
             VocabularyProjection projection = new VocabularyProjection(model.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
            Attribution.Options o = Attribution.Options.defaults();
            List<StepScores> fast = new Attribution(model, projection, o).score(contexts, List.of(), topOne, null);
            List<StepScores> direct = new Attribution(model, projection, o.withNeuronPath(Attribution.NeuronPath.PER_NEURON))
                    .score(contexts, List.of(), topOne, null);
            for (int i = 0; i < contexts.size(); i++) {
                JsonNode e = prompts.get(i);
                String at = name + " prompt " + i;
                StepScores f = fast.get(i);
                assertEquals(e.path("target").asInt(), f.target(), at + " target");
                double finalVar = e.path("frozen_norm").path("final_var").asDouble();
                Close.assertAbs(at + " final_var", finalVar, f.norm().finalVar(), 1e-4 * Math.max(1, finalVar));
                float[] expectedNeurons = ReferenceData.floats(e.path("neuron_increase").path("increase"));
                Close.assertAbs(at + " neuron increase (value projections)", expectedNeurons, Close.flat(f.scores().neuron()), 1e-4);
                Close.assertAbs(at + " neuron increase (one projection per neuron)", expectedNeurons,
                        Close.flat(direct.get(i).scores().neuron()), 1e-4);
                Close.assertAbs(at + " value projections vs one projection per neuron", Close.flat(direct.get(i).scores().neuron()),
                        Close.flat(f.scores().neuron()), 1e-5);
                Close.assertAbs(at + " neuron logprob_before", ReferenceData.floats(e.path("neuron_increase").path("logprob_before")),
                        Close.floats(f.scores().neuronBase()), 1e-4);
                Close.assertAbs(at + " head increase", ReferenceData.floats(e.path("head_increase").path("increase")),
                        Close.flat(f.scores().head()), 1e-4);
                double logprob = logSoftmax(ReferenceData.floats(e.path("logits")), f.target());
                Close.assertAbs(at + " the model's log p(target)", logprob, f.logprob(), 1e-4);
                ComponentScores sc = f.scores();
                int layers = sc.attention().length;
                for (int l = 0; l < layers; l++) {
                    Close.assertAbs(at + " layer " + l + " head base + attention = neuron base",
                            sc.neuronBase()[l], sc.headBase()[l] + sc.attention()[l], 1e-5);
                    if (l + 1 < layers) {
                        Close.assertAbs(at + " layer " + l + " neuron base + ffn = next head base", sc.headBase()[l + 1],
                                sc.neuronBase()[l] + sc.ffn()[l], 1e-5);
                    } else if (model.weights().normKind() == NormKind.RMSNORM) {
                        Close.assertAbs(at + " last neuron base + ffn = the model's log p", logprob,
                                sc.neuronBase()[l] + sc.ffn()[l], 1e-4);
                    }
                }
                Close.assertAbs(at + " head logprob_before", ReferenceData.floats(e.path("head_increase").path("logprob_before")),
                        Close.floats(f.scores().headBase()), 1e-4);
            }
        }
    }
    @ParameterizedTest
    @MethodSource("cases")
    void topNeuronsByBoundsMatchTheReference(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        try (LanguageModel model = LanguageModel.open(ReferenceData.caseDir(name), Device.cpu());
             VocabularyProjection projection = new VocabularyProjection(model.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
            Attribution attribution = new Attribution(model, projection, Attribution.Options.defaults());
            // a layer's first neuron in the reference's flat list (a mixture of experts' layers differ in width)
            int[] offset = new int[model.config().numLayers()];
            for (int l = 1; l < offset.length; l++) {
                offset[l] = offset[l - 1] + model.config().ffnWidth(l - 1);
            }
            for (int i = 0; i < prompts.size(); i++) {
                String at = name + " prompt " + i;
                float[] expected = ReferenceData.floats(prompts.get(i).path("neuron_increase").path("increase"));
                float[] sorted = expected.clone();
                java.util.Arrays.sort(sorted);
                double last = sorted[sorted.length - TOP];
                double next = sorted[sorted.length - TOP - 1];
                AttributionResult r = attribution.run(PromptSet.ofIds(ReferenceData.ints(prompts.get(i).path("ids")),
                        new int[0]), false, Scoring.bounded(TOP, null));
                assertTrue(r.scored().bounded(), at + ": scored by bounds");
                List<AttributionResult.NeuronScore> got = r.neurons(TOP);
                assertEquals(TOP, got.size(), at);
                java.util.Set<Integer> listed = new java.util.HashSet<>();
                for (AttributionResult.NeuronScore n : got) {
                    int flat = offset[n.neuron().layer()] + n.neuron().neuron();
                    listed.add(flat);
                    Close.assertAbs(at + " " + n.neuron(), expected[flat], n.score(), TOLERANCE);
                    assertTrue(expected[flat] >= last - 2 * TOLERANCE, at + " lists " + n.neuron() + " below the 20th");
                }
                for (int flat = 0; flat < expected.length; flat++) {
                    int f = flat;
                    assertTrue(listed.contains(flat) || expected[flat] <= next + 2 * TOLERANCE,
                            () -> at + " misses the neuron at " + f + " of the flat list");
                }
            }
        }
    }
}
