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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Expert attribution on every mixture-of-experts reference case: each prompt's
 * {@code logprob_before}, every expert's increase (exactly 0 for the experts not routed at the
 * last position) and the shared expert's increase equal the reference's
 * {@code expert_increase} within 1e-4, with the weights kept and streamed, one prompt at a time
 * and all three in one batch.
 */
class ExpertAttributionReferenceTest {
    static List<String> cases() {
        return ExpertScanReferenceTest.cases();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void increasesMatchTheReferenceKeptAndStreamed(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        Path dir = ReferenceData.caseDir(name);
        List<int[]> ids = new ArrayList<>();
        prompts.forEach(p -> ids.add(ReferenceData.ints(p.path("ids"))));
        for (boolean stream : new boolean[] {false, true}) {
            try (LanguageModel model = stream ? LanguageModel.open(dir, Device.cpu(), ExpertScanReferenceTest.streamed(dir))
                    : LanguageModel.open(dir, Device.cpu());
                 VocabularyProjection projection = new VocabularyProjection(model.weights(), 1 << 20)) {
                assertEquals(stream, model.weights().streaming(), name);
                ExpertAttributionResult together = ExpertAttribution.run(model, projection, PromptSet.ofIds(ids),
                        1L << 22, Progress.NONE);
                for (int i = 0; i < prompts.size(); i++) {
                    ExpertAttributionResult alone = ExpertAttribution.run(model, projection,
                            PromptSet.ofIds(ids.get(i), new int[0]), 1L << 22, Progress.NONE);
                    String at = name + " prompt " + i + (stream ? " streamed" : " kept");
                    check(at, prompts.get(i), alone, alone.steps().getFirst());
                    check(at + " in a batch", prompts.get(i), together, together.steps().get(i));
                }
            }
        }
    }

    private static void check(String at, JsonNode prompt, ExpertAttributionResult r,
                              ExpertAttributionResult.StepExperts step) {
        assertEquals(prompt.path("target").asInt(), step.target(), at + " target");
        JsonNode expected = prompt.path("expert_increase");
        assertEquals(expected.size(), r.sparseLayers().size(), at + " sparse layers");
        for (int si = 0; si < expected.size(); si++) {
            JsonNode e = expected.get(si);
            String where = at + " layer " + e.path("layer").asInt();
            assertEquals(e.path("layer").asInt(), r.sparseLayers().get(si), where);
            Close.assertAbs(where + " logprob_before", e.path("logprob_before").asDouble(), step.before()[si], 1e-4);
            float[] want = ReferenceData.floats(e.path("increase"));
            Close.assertAbs(where + " increase", want, step.increase()[si], 1e-4);
            for (int x = 0; x < want.length; x++) {
                if (want[x] == 0) {
                    assertEquals(0f, step.increase()[si][x], where + " unrouted expert " + x);
                }
            }
            if (e.path("shared_increase").isNull()) {
                assertTrue(step.shared() == null, where + " has no shared expert");
            } else {
                Close.assertAbs(where + " shared", e.path("shared_increase").asDouble(), step.shared()[si], 1e-4);
            }
        }
    }
}
