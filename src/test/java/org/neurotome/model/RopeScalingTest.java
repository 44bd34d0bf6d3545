package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.RopeScaling;
import org.neurotome.checkpoint.Checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.neurotome.model.ForwardInvariantsTest.assertAbs;

/**
 * Rope scaling types without a reference case (linear, dynamic, yarn; llama3 too), checked
 * against a separate straightforward double-precision transcription of transformers'
 * {@code modeling_rope_utils.py} formulas written out below for a small config (rotary width
 * 16, θ = 10000, 64 trained positions), and against invariants: linear scaling by f at
 * position p is no scaling at p/f; dynamic NTK leaves sequences within the trained length
 * untouched and scales each row of a padded batch by its own length; YaRN's attention
 * factor multiplies cos and sin.
 */
class RopeScalingTest {
    private static final int N = 16;
    private static final double THETA = 10000;
    private static final int MAX = 64;

    /** transformers' default frequencies: 1 / θ^(arange(0, n, 2) / n). */
    private static double[] plain(double theta) {
        double[] f = new double[N / 2];
        for (int i = 0; i < N; i += 2) {
            f[i / 2] = 1.0 / Math.pow(theta, (double) i / N);
        }
        return f;
    }

    /** _compute_dynamic_ntk_parameters: base · ((factor·L / max) − (factor − 1))^(n / (n − 2)) with L = max(len, max). */
    private static double[] dynamic(double factor, int seqLen) {
        double len = Math.max(seqLen, MAX);
        return plain(THETA * Math.pow(factor * len / MAX - (factor - 1), (double) N / (N - 2)));
    }

    /** _compute_yarn_parameters, with truncation (transformers' default). */
    private static double[] yarn(double factor, int original, double betaFast, double betaSlow, boolean truncate) {
        double low = N * Math.log(original / (betaFast * 2 * Math.PI)) / (2 * Math.log(THETA));
        double high = N * Math.log(original / (betaSlow * 2 * Math.PI)) / (2 * Math.log(THETA));
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, N - 1);
        if (low == high) {
            high += 0.001;
        }
        double[] out = new double[N / 2];
        for (int i = 0; i < N / 2; i++) {
            double posFreq = Math.pow(THETA, 2.0 * i / N);
            double extrapolation = 1.0 / posFreq;
            double interpolation = 1.0 / (factor * posFreq);
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double extrapolationFactor = 1 - ramp;
            out[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        return out;
    }

    /** _compute_llama3_parameters. */
    private static double[] llama3(double factor, double low, double high, int old) {
        double[] f = plain(THETA);
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            double wavelen = 2 * Math.PI / f[i];
            double scaled = wavelen > old / low ? f[i] / factor : f[i];
            double smooth = (old / wavelen - low) / (high - low);
            boolean medium = !(wavelen < old / high) && !(wavelen > old / low);
            out[i] = medium ? (1 - smooth) * scaled / factor + smooth * scaled : scaled;
        }
        return out;
    }

    private static void assertFrequencies(String what, double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-12 * expected[i], what + " frequency " + i);
        }
    }

    @Test
    void inverseFrequenciesFollowTheTransformersFormulas() {
        assertFrequencies("none", plain(THETA), Rotary.inverseFrequencies(N, THETA, RopeScaling.NONE, MAX, 9));
        double[] linear = Rotary.inverseFrequencies(N, THETA, RopeScaling.linear(4), MAX, 9);
        for (int i = 0; i < N / 2; i++) {
            assertEquals(plain(THETA)[i] / 4, linear[i], 1e-15, "linear divides every frequency by the factor");
        }
        assertFrequencies("dynamic within the trained length", plain(THETA),
                Rotary.inverseFrequencies(N, THETA, RopeScaling.dynamic(2), MAX, MAX));
        assertFrequencies("dynamic at 3× the trained length", dynamic(2, 3 * MAX),
                Rotary.inverseFrequencies(N, THETA, RopeScaling.dynamic(2), MAX, 3 * MAX));
        assertTrue(dynamic(2, 3 * MAX)[N / 2 - 1] < plain(THETA)[N / 2 - 1], "a longer sequence slows the low frequencies");
        assertFrequencies("llama3", llama3(8, 1, 4, 32),
                Rotary.inverseFrequencies(N, THETA, RopeScaling.llama3(8, 1, 4, 32), MAX, 9));

        // yarn at 64 original positions: dims 0..3 of 8 ramp, so all three regions occur
        double[] yarn = Rotary.inverseFrequencies(N, THETA, RopeScaling.yarn(4, 0), MAX, 9);
        assertFrequencies("yarn", yarn(4, MAX, 32, 1, true), yarn);
        assertEquals(plain(THETA)[0], yarn[0], 1e-15, "the fastest frequency is extrapolated (kept)");
        assertEquals(plain(THETA)[7] / 4, yarn[7], 1e-15, "the slowest is interpolated (divided by the factor)");
        assertTrue(yarn[2] < plain(THETA)[2] && yarn[2] > plain(THETA)[2] / 4, "a middle one is blended");
        RopeScaling custom = new RopeScaling(RopeScaling.Type.YARN, 8, 0, 0, 256, 16, 2, 0, 0, 0, false);
        assertFrequencies("yarn with its own original length, betas and no truncation", yarn(8, 256, 16, 2, false),
                Rotary.inverseFrequencies(N, THETA, custom, MAX, 9));
    }

    @Test
    void yarnScalesCosAndSinByItsAttentionFactor() {
        assertEquals(0.1 * Math.log(4) + 1, Rotary.attentionFactor(RopeScaling.yarn(4, 0)), 1e-15);
        assertEquals(0.7, Rotary.attentionFactor(new RopeScaling(RopeScaling.Type.YARN, 4, 0, 0, 0, 32, 1, 0.7, 0, 0,
                true)), 0, "a given attention_factor is used as it is");
        double deepSeek = (0.1 * 1.0 * Math.log(40) + 1) / (0.1 * 0.707 * Math.log(40) + 1);
        assertEquals(deepSeek, Rotary.attentionFactor(new RopeScaling(RopeScaling.Type.YARN, 40, 0, 0, 0, 32, 1, 0,
                1.0, 0.707, true)), 1e-15, "mscale / mscale_all_dim");
        assertEquals(1.0, Rotary.attentionFactor(RopeScaling.linear(4)));
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Rotary r = new Rotary(N, THETA, RopeScaling.yarn(4, 0), MAX, m);
            float[][] cs = angles(r, m, 5);
            double[] f = yarn(4, MAX, 32, 1, true);
            double af = 0.1 * Math.log(4) + 1;
            for (int p = 0; p < 5; p++) {
                for (int k = 0; k < N / 2; k++) {
                    assertEquals(Math.cos(p * f[k]) * af, cs[0][p * N / 2 + k], 1e-6, "cos at " + p + ", " + k);
                    assertEquals(Math.sin(p * f[k]) * af, cs[1][p * N / 2 + k], 1e-6, "sin at " + p + ", " + k);
                }
            }
        }
    }

    @Test
    void linearByFactorFAtPositionPIsNoScalingAtPOverF() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            float[][] scaled = angles(new Rotary(N, THETA, RopeScaling.linear(4), MAX, m), m, 40);
            float[][] plain = angles(new Rotary(N, THETA, RopeScaling.NONE, MAX, m), m, 10);
            int half = N / 2;
            for (int q = 0; q < 10; q++) {
                for (int k = 0; k < half; k++) {
                    assertEquals(plain[0][q * half + k], scaled[0][4 * q * half + k], 1e-6, "cos, position " + 4 * q);
                    assertEquals(plain[1][q * half + k], scaled[1][4 * q * half + k], 1e-6, "sin, position " + 4 * q);
                }
            }
        }
    }

    /** cos and sin tables of positions 0 … len − 1 of one row, each [len · n/2]. */
    private static float[][] angles(Rotary r, NDManager m, int len) {
        long[] pos = new long[len];
        for (int i = 0; i < len; i++) {
            pos[i] = i;
        }
        NDArray[] a = r.angles(m.create(pos, new Shape(1, len)), 0, new int[] {len});
        return new float[][] {a[0].toFloatArray(), a[1].toFloatArray()};
    }

    /** The llama3_rope_scaling reference model with its rope settings replaced. */
    private static ModelConfig variant(Checkpoint ckpt, int maxPositions, ObjectNode ropeScaling) {
        ObjectNode c = ckpt.config().deepCopy();
        c.put("max_position_embeddings", maxPositions);
        if (ropeScaling == null) {
            c.putNull("rope_scaling");
        } else {
            c.set("rope_scaling", ropeScaling);
        }
        return ModelConfig.from(c);
    }

    private static float[][] logits(Checkpoint ckpt, ModelConfig c, int[]... rows) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
             Weights w = Weights.fromTensors(m, c, Architecture.forCheckpoint(ckpt), ckpt::floats);
             Transformer t = new Transformer(w); ForwardResult r = t.forward(ForwardRequest.tokens(rows))) {
            float[][] out = new float[rows.length][];
            for (int i = 0; i < rows.length; i++) {
                out[i] = r.lastLogits(i);
            }
            return out;
        }
    }

    @Test
    void dynamicScalingReachesOnlyRowsLongerThanTheTrainedLengthEachByItsOwnLength() {
        int[] longRow = {3, 17, 5, 9, 2, 11, 4, 7, 30};
        int[] shortRow = {8, 1, 6};
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir("llama3_rope_scaling"))) {
            ObjectNode dynamic = ckpt.config().objectNode().put("rope_type", "dynamic").put("factor", 2.0);
            ModelConfig scaled = variant(ckpt, 4, dynamic);
            assertEquals(RopeScaling.dynamic(2), scaled.features().ropeScaling());
            ModelConfig none = variant(ckpt, 4, null);
            float[][] batch = logits(ckpt, scaled, longRow, shortRow);
            float[] longAlone = logits(ckpt, scaled, longRow)[0];
            float[] shortPlain = logits(ckpt, none, shortRow)[0];
            assertAbs("the long row in a batch equals the row alone", longAlone, batch[0], 1e-5);
            assertAbs("a row within the trained length is not scaled", shortPlain, batch[1], 1e-5);
            float[] longPlain = logits(ckpt, none, longRow)[0];
            double max = 0;
            for (int i = 0; i < longPlain.length; i++) {
                max = Math.max(max, Math.abs(longPlain[i] - longAlone[i]));
            }
            assertTrue(max > 1e-4, "a row past the trained length is scaled (max change " + max + ")");
        }
    }

    @Test
    void configsNameTheTypeWithEitherKey() {
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir("llama3_rope_scaling"))) {
            assertEquals(RopeScaling.llama3(8, 1, 4, 64), ModelConfig.from(ckpt.config()).features().ropeScaling());
            ObjectNode old = ckpt.config().objectNode().put("type", "yarn").put("factor", 4.0);
            assertEquals(RopeScaling.yarn(4, 0), variant(ckpt, 256, old).features().ropeScaling());
            ObjectNode plainType = ckpt.config().objectNode().put("rope_type", "default");
            assertEquals(RopeScaling.NONE, variant(ckpt, 256, plainType).features().ropeScaling());
            ModelConfig c = variant(ckpt, 256, old);
            assertEquals(c, ModelConfig.from(c.toConfigJson()), "rope_scaling is written back");
        }
    }
}
