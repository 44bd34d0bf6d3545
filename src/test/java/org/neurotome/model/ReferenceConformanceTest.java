package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.checkpoint.Checkpoint;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every reference case, every prompt: logits within 1e-4 absolute and the per-layer
 * internals, read through the taps, within 1e-4·max(1, |expected|) (the tolerances of the
 * reference README). All prompts of a case also run as one padded batch, which must give
 * the same numbers.
 */
class ReferenceConformanceTest {
    static List<String> cases() {
        return ReferenceData.caseNames();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsAndInternalsMatchTheReference(String name) {
        JsonNode expected = ReferenceData.expected(name);
        JsonNode prompts = expected.path("prompts");
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir(name));
             Weights weights = Weights.load(ckpt, Device.cpu());
             Transformer model = new Transformer(weights)) {
            int layers = weights.config().numLayers();
            List<String> taps = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                taps.addAll(List.of(Tap.residPre(l), Tap.attnOut(l), Tap.attnResult(l), Tap.mlpPost(l),
                        Tap.mlpOut(l), Tap.residPost(l)));
            }
            List<int[]> ids = new ArrayList<>();
            prompts.forEach(p -> ids.add(ReferenceData.ints(p.path("ids"))));
            for (int i = 0; i < ids.size(); i++) {
                try (ForwardResult alone = model.forward(ForwardRequest.tokens(ids.get(i)).withTaps(taps))) {
                    check(name + " prompt " + i, prompts.get(i), alone, 0, layers);
                }
            }
            try (ForwardResult batch = model.forward(ForwardRequest.tokens(ids).withTaps(taps))) {
                for (int i = 0; i < ids.size(); i++) {
                    check(name + " prompt " + i + " in a padded batch", prompts.get(i), batch, i, layers);
                }
            }
        }
    }

    static List<String> moeCases() {
        return ReferenceData.caseNames().stream().filter(n -> ReferenceData.expected(n).has("moe")).toList();
    }

    /**
     * Mixture-of-experts cases: at every position of every prompt, each sparse layer's router
     * logits and routing weights within the internals' tolerance and the selected experts
     * exactly, in the reference's order (descending probability); the dense layers have no
     * router taps.
     */
    @ParameterizedTest
    @MethodSource("moeCases")
    void routingMatchesTheReference(String name) {
        JsonNode expected = ReferenceData.expected(name);
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir(name));
             Weights weights = Weights.load(ckpt, Device.cpu());
             Transformer model = new Transformer(weights)) {
            List<Integer> sparse = new ArrayList<>();
            expected.path("moe").path("sparse_layers").forEach(n -> sparse.add(n.asInt()));
            for (int l = 0; l < weights.config().numLayers(); l++) {
                assertEquals(sparse.contains(l), weights.config().sparseLayer(l), name + " layer " + l + " sparse");
            }
            for (int i = 0; i < expected.path("prompts").size(); i++) {
                JsonNode prompt = expected.path("prompts").get(i);
                List<String> taps = new ArrayList<>();
                for (int l : sparse) {
                    taps.addAll(List.of(Tap.routerLogits(l), Tap.expertWeights(l), Tap.expertIndices(l)));
                }
                try (ForwardResult r = model.forward(ForwardRequest.tokens(ReferenceData.ints(prompt.path("ids")))
                        .withTaps(taps).tapAtAllPositions())) {
                    for (JsonNode routing : prompt.path("routing")) {
                        int l = routing.path("layer").asInt();
                        String at = name + " prompt " + i + " layer " + l + " ";
                        assertClose(at + "router_logits", ReferenceData.floats(routing.path("router_logits")),
                                r.tap(Tap.routerLogits(l)).get(0).toFloatArray(), 1e-4, true);
                        assertClose(at + "routing_weights", ReferenceData.floats(routing.path("routing_weights")),
                                r.tap(Tap.expertWeights(l)).get(0).toFloatArray(), 1e-4, true);
                        long[] got = r.tap(Tap.expertIndices(l)).get(0).toLongArray();
                        int[] want = ReferenceData.ints(routing.path("selected_experts").get(0).isArray()
                                ? flatten(routing.path("selected_experts")) : routing.path("selected_experts"));
                        assertEquals(want.length, got.length, at + "selected_experts");
                        for (int k = 0; k < want.length; k++) {
                            assertEquals(want[k], got[k], at + "selected_experts[" + k + "]");
                        }
                    }
                }
            }
        }
    }

    private static JsonNode flatten(JsonNode nested) {
        com.fasterxml.jackson.databind.node.ArrayNode flat = org.neurotome.Json.MAPPER.createArrayNode();
        nested.forEach(row -> row.forEach(flat::add));
        return flat;
    }

    private static void check(String what, JsonNode prompt, ForwardResult r, int row, int layers) {
        assertClose(what + " logits", ReferenceData.floats(prompt.path("logits")), r.lastLogits(row), 1e-4, false);
        for (int l = 0; l < layers; l++) {
            JsonNode e = prompt.path("layers").get(l);
            String at = what + " layer " + l + " ";
            assertClose(at + "resid_pre", ReferenceData.floats(e.path("resid_pre")), row(r, Tap.residPre(l), row), 1e-4, true);
            assertClose(at + "attn_out", ReferenceData.floats(e.path("attn_out")), row(r, Tap.attnOut(l), row), 1e-4, true);
            assertClose(at + "head_out", ReferenceData.floats(e.path("head_out")), row(r, Tap.attnResult(l), row), 1e-4, true);
            assertClose(at + "ffn_coef", ReferenceData.floats(e.path("ffn_coef")), row(r, Tap.mlpPost(l), row), 1e-4, true);
            assertClose(at + "ffn_out", ReferenceData.floats(e.path("ffn_out")), row(r, Tap.mlpOut(l), row), 1e-4, true);
            assertClose(at + "resid_post", ReferenceData.floats(e.path("resid_post")), row(r, Tap.residPost(l), row), 1e-4, true);
        }
    }

    private static float[] row(ForwardResult r, String tap, int row) {
        NDArray t = r.tap(tap);
        return t.get(row).toFloatArray();
    }

    static void assertClose(String what, float[] expected, float[] actual, double tol, boolean relative) {
        assertEquals(expected.length, actual.length, what + ": length");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double allowed = relative ? tol * Math.max(1, Math.abs(expected[i])) : tol;
            double excess = Math.abs(expected[i] - actual[i]) / allowed;
            if (!(excess <= worst) || Double.isNaN(actual[i])) {
                worst = Double.isNaN(actual[i]) ? Double.POSITIVE_INFINITY : excess;
                at = i;
            }
        }
        double w = worst;
        int a = at;
        assertTrue(worst <= 1, () -> what + ": element " + a + " expected " + expected[a] + " got " + actual[a]
                + " (" + w + "× the tolerance)");
    }
}
