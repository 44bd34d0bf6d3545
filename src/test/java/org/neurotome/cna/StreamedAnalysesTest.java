package org.neurotome.cna;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.arch.Head;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.ReferenceData;
import org.neurotome.model.Residency;
import org.neurotome.model.Weights;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The analyses do not depend on how the weights are held: on every reference case, the head
 * scan, the attribution of every neuron and head and CNA against an ablated head give the same
 * numbers within 1e-6 from kept weights and from weights streamed under a budget just above
 * one layer (all prompts together, so the streamed forwards run layer-major).
 */
class StreamedAnalysesTest {
    static final double TOLERANCE = 1e-6;

    static List<String> cases() {
        return ReferenceData.caseNames();
    }

    private static LanguageModel streamed(Path dir) {
        long floor;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            floor = Residency.streamingFloor(ckpt);
        }
        LanguageModel m = LanguageModel.open(dir, Device.cpu(), MemoryBudget.of(floor + 1024, "a test budget"));
        assertTrue(m.weights().streaming(), dir + " streams");
        return m;
    }

    private static PromptSet prompts(String name) {
        List<int[]> ids = new ArrayList<>();
        ReferenceData.expected(name).path("prompts").forEach(p -> ids.add(ReferenceData.ints(p.path("ids"))));
        return PromptSet.ofIds(ids);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void headScanAttributionAndCnaAreTheSameStreamed(String name) {
        Path dir = ReferenceData.caseDir(name);
        PromptSet prompts = prompts(name);
        JsonNode first = ReferenceData.expected(name).path("prompts").get(0).path("cna").path("ablate").get(0);
        List<Head> ablate = List.of(new Head(first.get(0).asInt(), first.get(1).asInt()));
        try (LanguageModel kept = LanguageModel.open(dir, Device.cpu()); LanguageModel stream = streamed(dir)) {
            HeadScanResult a = HeadScan.run(kept, prompts, HeadScan.Options.defaults());
            HeadScanResult b = HeadScan.run(stream, prompts, HeadScan.Options.defaults());
            assertArrayEquals(a.targets(), b.targets(), name + " head-scan targets");
            for (int l = 0; l < a.layers(); l++) {
                for (int h = 0; h < a.heads(); h++) {
                    for (int i = 0; i < prompts.steps().size(); i++) {
                        Head head = new Head(l, h);
                        Close.assertAbs(name + " head scan " + head + " step " + i, a.stepLogprob(head, i),
                                b.stepLogprob(head, i), TOLERANCE);
                    }
                }
            }
            try (VocabularyProjection pa = new VocabularyProjection(kept.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES);
                 VocabularyProjection pb = new VocabularyProjection(stream.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
                Attribution aa = new Attribution(kept, pa, Attribution.Options.defaults());
                Attribution ab = new Attribution(stream, pb, Attribution.Options.defaults());
                same(name + " attribution", aa.run(prompts, false, Scoring.EXHAUSTIVE).mean(), ab.run(prompts, false, Scoring.EXHAUSTIVE).mean());
                ComparisonResult ca = Comparison.headsAblated(aa, prompts, ablate, false, Scoring.EXHAUSTIVE);
                ComparisonResult cb = Comparison.headsAblated(ab, prompts, ablate, false, Scoring.EXHAUSTIVE);
                same(name + " CNA side A", ca.meanA(), cb.meanA());
                same(name + " CNA side B", ca.meanB(), cb.meanB());
            }
        }
    }

    private static void same(String what, ComponentScores a, ComponentScores b) {
        for (int l = 0; l < a.neuron().length; l++) {
            Close.assertAbs(what + " neurons of layer " + l, a.neuron()[l], b.neuron()[l], TOLERANCE);
            Close.assertAbs(what + " heads of layer " + l, a.head()[l], b.head()[l], TOLERANCE);
            Close.assertAbs(what + " coefficients of layer " + l, a.coef()[l], b.coef()[l], TOLERANCE);
            Close.assertAbs(what + " attention of layer " + l, a.attention()[l], b.attention()[l], TOLERANCE);
            Close.assertAbs(what + " FFN of layer " + l, a.ffn()[l], b.ffn()[l], TOLERANCE);
        }
    }
}
