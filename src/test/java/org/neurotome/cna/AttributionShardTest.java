package org.neurotome.cna;

import ai.djl.Device;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.model.LanguageModel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An exhaustive attribution split into shards of whole passes ({@link Attribution#runShard}),
 * each written to its file and read back, merged into the unsharded attribution: on the Llama
 * fixture over 400 prompts of the arithmetic and gender data sets, in passes of 512 KiB of
 * recorded rows (a dozen steps each), 8 shards give every mean score, every step's target,
 * log-probability and frozen norm, and the ranking of neurons and heads of the unsharded run
 * bit for bit (the bar is 1e-6). Shards out of order, of other prompts or of other passes are refused.
 */
class AttributionShardTest {
    @TempDir
    static Path tmp;
    static LanguageModel model;
    static VocabularyProjection projection;
    static PromptSet prompts;

    @BeforeAll
    static void setUp() {
        model = LanguageModel.open(Path.of("checkpoints", "fixture-llama"), Device.cpu());
        projection = new VocabularyProjection(model.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES);
        List<EvalCase> arithmetic = EvalCaseFile.read(Path.of("eval/datasets/arithmetic.jsonl"));
        List<EvalCase> gender = EvalCaseFile.read(Path.of("eval/datasets/gender.jsonl"));
        List<EvalCase> cases = Stream.concat(arithmetic.stream().limit(200), gender.stream().limit(200)).toList();
        prompts = PromptSet.ofCases(model, cases, "arithmetic+gender");
    }

    @AfterAll
    static void tearDown() {
        projection.close();
        model.close();
    }

    @Test
    void eightShardsMergeIntoTheUnshardedAttribution() {
        Attribution a = new Attribution(model, projection, new Attribution.Options(
                Attribution.NeuronPath.VALUE_PROJECTIONS, 1L << 18, 1L << 19, Progress.NONE));
        int passes = a.passes(prompts);
        assertTrue(passes >= 16, passes + " passes: the test would not split them into several per shard");
        AttributionResult whole = a.run(prompts, false, Scoring.EXHAUSTIVE);
        List<AttributionShard> shards = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            AttributionShard s = a.runShard(prompts, i, 8);
            assertTrue(s.sums().size() >= 2, "shard " + i + " has " + s.sums().size() + " passes");
            Path file = tmp.resolve("attribution-" + i + ".bin");
            s.write(file);
            shards.add(AttributionShard.read(file));
        }
        AttributionResult merged = AttributionResult.merge(prompts, shards);
        assertEquals(whole.steps(), merged.steps());
        assertEquals(whole.scored(), merged.scored());
        ComponentScores w = whole.mean();
        ComponentScores m = merged.mean();
        double worst = 0;
        for (int l = 0; l < w.neuron().length; l++) {
            for (int k = 0; k < w.neuron()[l].length; k++) {
                worst = Math.max(worst, Math.abs(w.neuron()[l][k] - m.neuron()[l][k]));
                worst = Math.max(worst, Math.abs(w.coef()[l][k] - m.coef()[l][k]));
            }
            for (int h = 0; h < w.head()[l].length; h++) {
                worst = Math.max(worst, Math.abs(w.head()[l][h] - m.head()[l][h]));
            }
            worst = Math.max(worst, Math.abs(w.attention()[l] - m.attention()[l]));
            worst = Math.max(worst, Math.abs(w.ffn()[l] - m.ffn()[l]));
            worst = Math.max(worst, Math.abs(w.neuronBase()[l] - m.neuronBase()[l]));
            worst = Math.max(worst, Math.abs(w.headBase()[l] - m.headBase()[l]));
        }
        System.out.printf("8 attribution shards of %d steps in %d passes: largest difference of a mean score %.3g%n",
                prompts.steps().size(), passes, worst);
        assertTrue(worst <= 1e-6, "largest difference " + worst);
        assertArrayEquals(w.neuron(), m.neuron());
        assertArrayEquals(w.coef(), m.coef());
        assertArrayEquals(w.head(), m.head());
        for (double[][] pair : List.of(new double[][] {w.attention(), m.attention()},
                new double[][] {w.ffn(), m.ffn()}, new double[][] {w.neuronBase(), m.neuronBase()},
                new double[][] {w.headBase(), m.headBase()})) {
            assertArrayEquals(pair[0], pair[1]);
        }
        assertEquals(whole.neurons(0).stream().map(AttributionResult.NeuronScore::neuron).toList(),
                merged.neurons(0).stream().map(AttributionResult.NeuronScore::neuron).toList());
        assertEquals(whole.heads(0).stream().map(AttributionResult.HeadScore::head).toList(),
                merged.heads(0).stream().map(AttributionResult.HeadScore::head).toList());
    }

    @Test
    void shardsOutOfOrderOfOtherPromptsOrOfOtherPassesAreRefused() {
        PromptSet few = PromptSet.of(prompts.cases().subList(0, 6));
        PromptSet other = PromptSet.of(prompts.cases().subList(1, 7));
        Attribution a = new Attribution(model, projection, new Attribution.Options(
                Attribution.NeuronPath.VALUE_PROJECTIONS, 1, 1, Progress.NONE));   // one step a pass
        Attribution wider = new Attribution(model, projection, new Attribution.Options(
                Attribution.NeuronPath.VALUE_PROJECTIONS, 1, Long.MAX_VALUE, Progress.NONE));  // one pass
        AttributionShard first = a.runShard(few, 0, 2);
        AttributionShard second = a.runShard(few, 1, 2);
        AttributionShard otherSecond = a.runShard(other, 1, 2);
        AttributionShard widerFirst = wider.runShard(few, 0, 2);
        assertEquals(0, widerFirst.steps().size(), "one pass, in the last of two shards");
        for (List<AttributionShard> bad : List.of(List.of(first), List.of(second, first), List.of(first, otherSecond),
                List.of(widerFirst, second))) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> AttributionResult.merge(few, bad));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode(), e.getMessage());
        }
        assertEquals(few.steps().size(), AttributionResult.merge(few, List.of(first, second)).steps().size());
    }
}
