package org.neurotome.cna;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.ReferenceData;
import org.neurotome.model.Residency;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The expert scan on every mixture-of-experts reference case and prompt: the unablated and
 * every removed-expert probability and log-probability of the target equal the reference's
 * {@code expert_scan} within 1e-4, with the weights kept and streamed (a budget just above the
 * streaming floor, so each removal reads only the experts its routing selects); all prompts
 * scanned together in batches that split prompts and experts give the same numbers; a dense
 * model is refused.
 */
class ExpertScanReferenceTest {
    static List<String> cases() {
        return ReferenceData.caseNames().stream().filter(n -> ReferenceData.expected(n).has("moe")).toList();
    }

    /** A budget that streams the case's weights one layer at a time. */
    static MemoryBudget streamed(Path dir) {
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            return MemoryBudget.of(Residency.streamingFloor(ckpt) + 1024, "a test budget");
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void scanMatchesTheReferenceKeptAndStreamed(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        Path dir = ReferenceData.caseDir(name);
        for (boolean stream : new boolean[] {false, true}) {
            try (LanguageModel model = stream ? LanguageModel.open(dir, Device.cpu(), streamed(dir))
                    : LanguageModel.open(dir, Device.cpu())) {
                assertEquals(stream, model.weights().streaming(), name);
                for (int i = 0; i < prompts.size(); i++) {
                    JsonNode p = prompts.get(i);
                    ExpertScanResult r = ExpertScan.run(model, PromptSet.ofIds(ReferenceData.ints(p.path("ids")),
                            new int[0]), 1L << 21, Progress.NONE);
                    JsonNode e = p.path("expert_scan");
                    String at = name + " prompt " + i + (stream ? " streamed" : " kept");
                    assertEquals(p.path("target").asInt(), r.targets()[0], at + " target");
                    Close.assertAbs(at + " base prob", e.path("base_prob").asDouble(), r.baseProb(), 1e-4);
                    Close.assertAbs(at + " base logprob", e.path("base_logprob").asDouble(), r.baseLogprob(), 1e-4);
                    List<Integer> layers = new ArrayList<>();
                    e.path("layers").forEach(l -> layers.add(l.path("layer").asInt()));
                    assertEquals(layers, r.sparseLayers(), at + " sparse layers");
                    for (JsonNode l : e.path("layers")) {
                        int layer = l.path("layer").asInt();
                        float[] prob = new float[r.experts()];
                        float[] logprob = new float[r.experts()];
                        for (int x = 0; x < r.experts(); x++) {
                            ExpertScanResult.ExpertEffect effect = r.effect(layer, x);
                            prob[x] = (float) effect.prob();
                            logprob[x] = (float) effect.logprob();
                            Close.assertAbs(at + " drop", r.baseProb() - effect.prob(), effect.drop(), 1e-12);
                        }
                        Close.assertAbs(at + " layer " + layer + " prob", ReferenceData.floats(l.path("prob")), prob, 1e-4);
                        Close.assertAbs(at + " layer " + layer + " logprob", ReferenceData.floats(l.path("logprob")),
                                logprob, 1e-4);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void batchesSplitAcrossPromptsAndExpertsChangeNothing(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        try (LanguageModel model = LanguageModel.open(ReferenceData.caseDir(name), Device.cpu())) {
            List<int[]> ids = new ArrayList<>();
            prompts.forEach(p -> ids.add(ReferenceData.ints(p.path("ids"))));
            PromptSet all = PromptSet.ofIds(ids);
            long perRow = HeadScan.elementsPerRow(model.config(), all.maxContext());
            int experts = model.config().features().experts().count();
            for (long rows : new long[] {3, 2L * experts + 1}) {
                ExpertScanResult r = ExpertScan.run(model, all, rows * perRow, Progress.NONE);
                for (int i = 0; i < ids.size(); i++) {
                    for (JsonNode l : prompts.get(i).path("expert_scan").path("layers")) {
                        int layer = l.path("layer").asInt();
                        float[] lp = new float[experts];
                        for (int x = 0; x < experts; x++) {
                            lp[x] = r.stepLogprob(layer, x, i);
                        }
                        Close.assertAbs(name + " prompt " + i + " layer " + layer + " in batches of " + rows + " rows",
                                ReferenceData.floats(l.path("logprob")), lp, 1e-4);
                    }
                }
            }
        }
    }

    @Test
    void aDenseModelIsRefused() {
        try (LanguageModel model = LanguageModel.open(ReferenceData.caseDir("qwen2_bias"), Device.cpu())) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> ExpertScan.run(model,
                    PromptSet.ofIds(new int[] {1, 2, 3}, new int[0]), 1L << 21, Progress.NONE));
            assertTrue(e.getMessage().contains("expert-scan needs a mixture-of-experts model"), e.getMessage());
        }
    }
}
