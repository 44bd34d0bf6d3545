package org.neurotome.cna;

import ai.djl.Device;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.arch.Head;
import org.neurotome.arch.LayerRange;
import org.neurotome.arch.ModelConfig;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.ReferenceData;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The top k found by bounds is the exhaustive top k ({@code docs/bounds.md}): on every reference
 * family (soft-capped Gemma 2, LayerNorm families, GPT-J's {@code lm_head} bias included, the
 * mixtures of experts with their sparse layers wider than their dense ones) and the three trained
 * fixtures, for random prompts, random k, random layer ranges and every way of
 * comparing, the bounded lists hold the same components in the same order with the same
 * scores, bit for bit — the mean over positions and each position's own list — and scoring
 * the listed ones was all the bounds left in most runs.
 */
class BoundedRankingTest {
    static Stream<String> models() {
        List<String> all = new ArrayList<>(ReferenceData.caseNames());
        all.add("fixture-llama");
        all.add("fixture-gpt2");
        all.add("fixture-mixtral");
        return all.stream();
    }

    static Path dir(String name) {
        return name.startsWith("fixture-") ? Path.of("checkpoints", name) : ReferenceData.caseDir(name);
    }

    /** The PEFT reference adapter of a reference case, or null where there is none. */
    static Path adapter(String name) {
        Path p = ReferenceData.root().resolveSibling("lora").resolve(name).resolve("adapter");
        return Files.isDirectory(p) ? p : null;
    }

    @ParameterizedTest
    @MethodSource("models")
    void boundedTopKIsTheExhaustiveTopK(String name) {
        Random random = new Random(name.hashCode());
        // the bounded runs project with their own projection: what the exhaustive runs leave in a
        // projection's cache must not be what makes the two agree
        try (LanguageModel m = LanguageModel.open(dir(name), Device.cpu());
             VocabularyProjection p = new VocabularyProjection(m.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES);
             VocabularyProjection pb = new VocabularyProjection(m.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
            ModelConfig c = m.config();
            Attribution at = new Attribution(m, p, Attribution.Options.defaults());
            Attribution atb = new Attribution(m, pb, Attribution.Options.defaults());
            for (int trial = 0; trial < 3; trial++) {
                PromptSet prompts = randomPrompts(random, c, 1 + random.nextInt(3));
                int k = 1 + random.nextInt(Math.min(30, c.numLayers() * c.numHeads()));
                LayerRange layers = random.nextInt(3) == 0 ? randomLayers(random, c) : null;
                boolean steps = random.nextBoolean();
                String at0 = name + " trial " + trial + " k " + k + " layers " + layers;
                sameAttribution(at0, at.run(prompts, steps, Scoring.EXHAUSTIVE),
                        atb.run(prompts, steps, Scoring.bounded(k, layers)), k, layers, steps);
                List<Head> ablate = List.of(new Head(random.nextInt(c.numLayers()), random.nextInt(c.numHeads())));
                sameComparison(at0 + " ablate " + ablate, Comparison.headsAblated(at, prompts, ablate, steps, Scoring.EXHAUSTIVE),
                        Comparison.headsAblated(atb, prompts, ablate, steps, Scoring.bounded(k, layers)), k, layers, steps);
                PromptSet other = randomPrompts(random, c, prompts.cases().size());
                sameComparison(at0 + " contrast", Comparison.contrast(at, prompts, other, steps, Scoring.EXHAUSTIVE),
                        Comparison.contrast(atb, prompts, other, steps, Scoring.bounded(k, layers)), k, layers, steps);
            }
            Path lora = adapter(name);
            if (lora != null) {
                try (LanguageModel tuned = LanguageModel.open(dir(name), Device.cpu(), MemoryBudget.unlimited(),
                        LoraAdapter.read(lora));
                     VocabularyProjection q = new VocabularyProjection(tuned.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES);
                     VocabularyProjection qb = new VocabularyProjection(tuned.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
                    Attribution b = new Attribution(tuned, q, Attribution.Options.defaults());
                    Attribution bb = new Attribution(tuned, qb, Attribution.Options.defaults());
                    PromptSet prompts = randomPrompts(random, c, 2);
                    int k = 1 + random.nextInt(20);
                    sameComparison(name + " adapter k " + k, Comparison.adapter(at, b, prompts, true, Scoring.EXHAUSTIVE),
                            Comparison.adapter(atb, bb, prompts, true, Scoring.bounded(k, null)), k, null, true);
                    sameComparison(name + " checkpoints k " + k, Comparison.checkpoints(b, at, prompts, false,
                            Scoring.EXHAUSTIVE), Comparison.checkpoints(bb, atb, prompts, false, Scoring.bounded(k, null)),
                            k, null, false);
                }
            }
        }
    }

    private static PromptSet randomPrompts(Random random, ModelConfig c, int n) {
        List<int[]> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] p = new int[2 + random.nextInt(7)];
            for (int j = 0; j < p.length; j++) {
                p[j] = random.nextInt(c.vocabSize());
            }
            ids.add(p);
        }
        return PromptSet.ofIds(ids);
    }

    private static LayerRange randomLayers(Random random, ModelConfig c) {
        int first = random.nextInt(c.numLayers());
        return new LayerRange(first, first + random.nextInt(c.numLayers() - first));
    }

    private static void sameAttribution(String at, AttributionResult all, AttributionResult bounded, int k,
                                        LayerRange layers, boolean steps) {
        assertTrue(bounded.scored().bounded(), at);
        assertEquals(all.scored().neuronsTotal(), bounded.scored().neuronsTotal(), at);
        sameNeurons(at + " neurons", within(all.neurons(0), layers, k), within(bounded.neurons(k), layers, k));
        sameHeads(at + " heads", withinHeads(all.heads(0), layers, k), withinHeads(bounded.heads(k), layers, k));
        for (int s = 0; steps && s < all.steps().size(); s++) {
            sameNeurons(at + " step " + s, within(AttributionResult.neurons(all.steps().get(s).scores(), 0), layers, k),
                    within(AttributionResult.neurons(bounded.steps().get(s).scores(), k), layers, k));
        }
    }

    private static void sameComparison(String at, ComparisonResult all, ComparisonResult bounded, int k,
                                       LayerRange layers, boolean steps) {
        assertTrue(bounded.scored().bounded(), at);
        sameDifferences(at, withinDiff(all.ranked(0), layers, k), withinDiff(bounded.ranked(k), layers, k));
        for (int s = 0; steps && s < all.stepsA().size(); s++) {
            sameDifferences(at + " step " + s, withinDiff(all.rankedAt(s, 0), layers, k),
                    withinDiff(bounded.rankedAt(s, k), layers, k));
        }
        Close.assertAbs(at + " prob_b", all.probB(), bounded.probB(), 0);
    }

    private static List<AttributionResult.NeuronScore> within(List<AttributionResult.NeuronScore> l, LayerRange r, int k) {
        return l.stream().filter(n -> r == null || r.contains(n.neuron().layer())).limit(k).toList();
    }

    private static List<AttributionResult.HeadScore> withinHeads(List<AttributionResult.HeadScore> l, LayerRange r, int k) {
        return l.stream().filter(n -> r == null || r.contains(n.head().layer())).limit(k).toList();
    }

    private static List<ComparisonResult.NeuronDifference> withinDiff(List<ComparisonResult.NeuronDifference> l,
                                                                      LayerRange r, int k) {
        return l.stream().filter(n -> r == null || r.contains(n.neuron().layer())).limit(k).toList();
    }

    private static void sameNeurons(String at, List<AttributionResult.NeuronScore> want,
                                    List<AttributionResult.NeuronScore> got) {
        assertEquals(want.stream().map(AttributionResult.NeuronScore::neuron).toList(),
                got.stream().map(AttributionResult.NeuronScore::neuron).toList(), at);
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).score(), got.get(i).score(), 0, at + " score of " + want.get(i).neuron());
            assertEquals(want.get(i).coef(), got.get(i).coef(), 0, at + " coef of " + want.get(i).neuron());
        }
    }

    private static void sameHeads(String at, List<AttributionResult.HeadScore> want, List<AttributionResult.HeadScore> got) {
        assertEquals(want.stream().map(AttributionResult.HeadScore::head).toList(),
                got.stream().map(AttributionResult.HeadScore::head).toList(), at);
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).score(), got.get(i).score(), 0, at + " score of " + want.get(i).head());
        }
    }

    private static void sameDifferences(String at, List<ComparisonResult.NeuronDifference> want,
                                        List<ComparisonResult.NeuronDifference> got) {
        assertEquals(want.stream().map(ComparisonResult.NeuronDifference::neuron).toList(),
                got.stream().map(ComparisonResult.NeuronDifference::neuron).toList(), at);
        for (int i = 0; i < want.size(); i++) {
            ComparisonResult.NeuronDifference w = want.get(i);
            ComparisonResult.NeuronDifference g = got.get(i);
            String who = at + " " + w.neuron();
            assertEquals(w.diff(), g.diff(), 0, who + " diff");
            assertEquals(w.scoreA(), g.scoreA(), 0, who + " score_a");
            assertEquals(w.scoreB(), g.scoreB(), 0, who + " score_b");
            assertEquals(w.coefA(), g.coefA(), 0, who + " coef_a");
            assertEquals(w.coefB(), g.coefB(), 0, who + " coef_b");
        }
    }
}
