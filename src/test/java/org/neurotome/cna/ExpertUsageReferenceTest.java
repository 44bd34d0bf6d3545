package org.neurotome.cna;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.ReferenceData;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Expert usage on every mixture-of-experts reference case over its three prompts (padded to
 * different lengths in one batch, and one prompt per forward): the token count and every
 * expert's selection count equal the reference's {@code moe.usage} exactly, frequency, mean
 * routing weight and REAP saliency within 1e-4 · max(1, |expected|), with the weights kept and
 * streamed.
 */
class ExpertUsageReferenceTest {
    static List<String> cases() {
        return ExpertScanReferenceTest.cases();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void usageMatchesTheReferenceKeptAndStreamed(String name) {
        JsonNode expected = ReferenceData.expected(name);
        List<int[]> ids = new ArrayList<>();
        expected.path("prompts").forEach(p -> ids.add(ReferenceData.ints(p.path("ids"))));
        PromptSet prompts = PromptSet.ofIds(ids);
        Path dir = ReferenceData.caseDir(name);
        JsonNode usage = expected.path("moe").path("usage");
        for (boolean stream : new boolean[] {false, true}) {
            try (LanguageModel model = stream ? LanguageModel.open(dir, Device.cpu(), ExpertScanReferenceTest.streamed(dir))
                    : LanguageModel.open(dir, Device.cpu())) {
                long oneRow = (long) prompts.maxContext() * model.config().vocabSize();
                for (long batch : new long[] {1L << 22, oneRow}) {
                    ExpertUsageResult r = ExpertUsage.run(model, prompts, batch, Progress.NONE);
                    String at = name + (stream ? " streamed" : " kept") + " batch " + batch;
                    assertEquals(usage.path("tokens").asLong(), r.tokens(), at + " tokens");
                    for (JsonNode l : usage.path("layers")) {
                        int layer = l.path("layer").asInt();
                        int e = r.experts();
                        long[] count = new long[e];
                        float[][] got = new float[3][e];
                        for (int x = 0; x < e; x++) {
                            ExpertUsageResult.ExpertStats s = r.stats(layer, x);
                            count[x] = s.count();
                            got[0][x] = (float) s.frequency();
                            got[1][x] = (float) s.meanWeight();
                            got[2][x] = (float) s.reap();
                        }
                        long[] want = new long[e];
                        for (int x = 0; x < e; x++) {
                            want[x] = l.path("count").get(x).asLong();
                        }
                        org.junit.jupiter.api.Assertions.assertArrayEquals(want, count, at + " layer " + layer + " count");
                        String[] keys = {"frequency", "mean_weight", "reap"};
                        for (int k = 0; k < keys.length; k++) {
                            float[] w = ReferenceData.floats(l.path(keys[k]));
                            for (int x = 0; x < e; x++) {
                                Close.assertAbs(at + " layer " + layer + " " + keys[k] + " expert " + x, w[x], got[k][x],
                                        1e-4 * Math.max(1, Math.abs(w[x])));
                            }
                        }
                    }
                }
            }
        }
    }
}
