package org.neurotome.cna;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.arch.Head;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.ReferenceData;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The head scan on every reference case and prompt: the unablated and every ablated
 * probability and log-probability of the target equal the reference's {@code head_scan}
 * within 1e-4 for each prompt; and, on two cases, all prompts scanned together in batches
 * small enough to split the prompts (padded to different lengths) and each layer's heads
 * give the same numbers.
 */
class HeadScanReferenceTest {
    static List<String> cases() {
        return ReferenceData.caseNames();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void scanMatchesTheReference(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        try (LanguageModel model = LanguageModel.open(ReferenceData.caseDir(name), Device.cpu())) {
            List<int[]> ids = new ArrayList<>();
            prompts.forEach(p -> ids.add(ReferenceData.ints(p.path("ids"))));
            for (int i = 0; i < ids.size(); i++) {
                HeadScanResult r = HeadScan.run(model, PromptSet.ofIds(ids.get(i), new int[0]), HeadScan.Options.defaults());
                JsonNode e = prompts.get(i).path("head_scan");
                String at = name + " prompt " + i;
                assertEquals(prompts.get(i).path("target").asInt(), r.targets()[0], at + " target");
                Close.assertAbs(at + " base prob", e.path("base_prob").asDouble(), r.baseProb(), 1e-4);
                Close.assertAbs(at + " base logprob", e.path("base_logprob").asDouble(), r.baseLogprob(), 1e-4);
                float[] prob = new float[r.layers() * r.heads()];
                float[] logprob = new float[prob.length];
                for (int l = 0; l < r.layers(); l++) {
                    for (int h = 0; h < r.heads(); h++) {
                        HeadScanResult.HeadEffect effect = r.effect(new Head(l, h));
                        prob[l * r.heads() + h] = (float) effect.prob();
                        logprob[l * r.heads() + h] = (float) effect.logprob();
                    }
                }
                Close.assertAbs(at + " prob", ReferenceData.floats(e.path("prob")), prob, 1e-4);
                Close.assertAbs(at + " logprob", ReferenceData.floats(e.path("logprob")), logprob, 1e-4);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_odd_untied", "llama_gqa_tied_bf16"})
    void batchesSplitAcrossPromptsAndHeadsChangeNothing(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        try (LanguageModel model = LanguageModel.open(ReferenceData.caseDir(name), Device.cpu())) {
            List<int[]> ids = new ArrayList<>();
            prompts.forEach(p -> ids.add(ReferenceData.ints(p.path("ids"))));
            PromptSet all = PromptSet.ofIds(ids);
            long perRow = HeadScan.elementsPerRow(model.config(), all.maxContext());
            int heads = model.config().numHeads();
            for (long rows : new long[] {3, 2L * heads + 1}) {
                HeadScanResult batched = HeadScan.run(model, all, new HeadScan.Options(rows * perRow, null, Progress.NONE));
                for (int i = 0; i < ids.size(); i++) {
                    float[] lp = new float[batched.layers() * heads];
                    for (int l = 0; l < batched.layers(); l++) {
                        for (int h = 0; h < heads; h++) {
                            lp[l * heads + h] = batched.stepLogprob(new Head(l, h), i);
                        }
                    }
                    Close.assertAbs(name + " prompt " + i + " in batches of " + rows + " rows",
                            ReferenceData.floats(prompts.get(i).path("head_scan").path("logprob")), lp, 1e-4);
                }
            }
        }
    }
}
