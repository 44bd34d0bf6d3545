package org.neurotome.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;

import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same forward trains: under a {@link GradientCollector} with
 * {@link ForwardRequest#forTraining()}, every parameter receives a gradient, one element of
 * every parameter matches central finite differences, and plain SGD steps, each in
 * its own {@link NDScope}, drive the next-token loss down.
 */
class TrainingForwardTest {
    private static final int[][] BATCH = {{5, 9, 2, 14, 7, 3, 11, 6}, {1, 4, 8, 12, 5}};

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_tied", "llama_gqa_tied_bf16", "gptj_partial_rotary"})
    void gradientsReachEveryParameterAndSgdLowersTheLoss(String name) {
        ModelConfig config;
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir(name))) {
            config = ModelConfig.from(ckpt.config());
        }
        try (NDManager root = NDManager.newBaseManager(Device.cpu());
             Weights w = InitialWeights.initialize(root, config, new Random(7), 0.1);
             Transformer t = new Transformer(w)) {
            Map<String, NDArray> params = w.parameters();
            params.values().forEach(p -> p.setRequiresGradient(true));

            double first = step(t, params, 0f);
            for (Map.Entry<String, NDArray> p : params.entrySet()) {
                float[] g = p.getValue().getGradient().toFloatArray();
                double norm = 0;
                for (float v : g) {
                    assertTrue(Float.isFinite(v), p.getKey());
                    norm += v * v;
                }
                assertTrue(norm > 0, name + ": no gradient reached " + p.getKey());
            }
            checkFiniteDifference(t, w);

            double last = first;
            for (int i = 0; i < 30; i++) {
                last = step(t, params, 0.5f);
            }
            assertTrue(last < first * 0.8, name + ": loss " + first + " -> " + last);
        }
    }

    /** Mean next-token cross-entropy of {@link #BATCH}; with lr > 0 also one SGD step on the previous gradients. */
    private static double step(Transformer t, Map<String, NDArray> params, float lr) {
        try (NDScope scope = new NDScope()) {
            if (lr > 0) {
                for (NDArray p : params.values()) {
                    NDArray g = p.getGradient();
                    p.subi(g.mul(lr));
                    g.subi(g);
                }
            }
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = loss(t);
                gc.backward(loss);
                return loss.getFloat();
            }
        }
    }

    private static NDArray loss(Transformer t) {
        ForwardResult r = t.forward(ForwardRequest.tokens(BATCH).withAllLogits().forTraining());
        NDArray logp = r.logits().logSoftmax(-1);                                   // [B, S, V]
        int v = t.config().vocabSize();
        int s = (int) logp.getShape().get(1);
        float[] pick = new float[BATCH.length * s * v];
        int count = 0;
        for (int b = 0; b < BATCH.length; b++) {
            for (int i = 0; i + 1 < BATCH[b].length; i++) {
                pick[(b * s + i) * v + BATCH[b][i + 1]] = 1f;
                count++;
            }
        }
        NDArray mask = r.manager().create(pick, new Shape(BATCH.length, s, v)).duplicate();
        return logp.mul(mask).sum().neg().div(r.manager().full(new Shape(), (float) count));
    }

    /** One element of every parameter (embeddings, attention, FFN, norms, biases): analytic gradient against central differences. */
    private static void checkFiniteDifference(Transformer t, Weights w) {
        float h = 1e-2f;
        for (Map.Entry<String, NDArray> p : w.parameters().entrySet()) {
            NDArray param = p.getValue();
            int index = (int) (param.size() / 3);
            float analytic = param.getGradient().toFloatArray()[index];
            double[] at = new double[2];
            for (int k = 0; k < 2; k++) {
                try (NDScope scope = new NDScope()) {
                    float[] e = new float[(int) param.size()];
                    e[index] = k == 0 ? h : -h;
                    NDArray delta = w.manager().create(e, param.getShape());
                    param.addi(delta);
                    at[k] = loss(t).getFloat();
                    param.subi(delta);
                }
            }
            double numeric = (at[0] - at[1]) / (2 * h);
            assertEquals(numeric, analytic, 2e-3 + 0.02 * Math.abs(numeric), "d loss / d " + p.getKey() + "[" + index + "]");
        }
    }
}
