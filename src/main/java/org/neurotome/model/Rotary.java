package org.neurotome.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;

/**
 * Rotary position embeddings (Su et al. 2021, RoFormer) in the rotate-half form of
 * transformers' {@code apply_rotary_pos_emb} (modeling_llama.py): on the first n = rotary
 * dims of a head, dims i and i + n/2 rotate by angle {@code pos · θ^(−2i/n)}; the rest
 * pass through. GPT-J's interleaved pairs reach this form by a fixed reordering of q/k rows
 * at load time ({@link LayerWeights#qkv()}). Angles are computed in float64.
 */
final class Rotary {
    private final int rotaryDim;
    private final double theta;
    private final NDManager manager;
    private NDArray cos;
    private NDArray sin;
    private int positions;

    Rotary(int rotaryDim, double theta, NDManager manager) {
        this.rotaryDim = rotaryDim;
        this.theta = theta;
        this.manager = manager;
    }

    /** cos and sin of the angles at {@code positionIds} [B, S], each [B, S, 1, n/2]. */
    NDArray[] angles(NDArray positionIds, int maxPosition) {
        NDArray[] tables = tables(maxPosition + 1);
        Shape s = positionIds.getShape();
        Shape out = new Shape(s.get(0), s.get(1), 1, rotaryDim / 2);
        NDArray c = positionIds.getNDArrayInternal().embedding(positionIds, tables[0], SparseFormat.DENSE)
                .singletonOrThrow().reshape(out);
        NDArray sn = positionIds.getNDArrayInternal().embedding(positionIds, tables[1], SparseFormat.DENSE)
                .singletonOrThrow().reshape(out);
        return new NDArray[] {c, sn};
    }

    /** The tables [P, n/2] covering at least {@code needed} positions, grown by doubling. */
    private synchronized NDArray[] tables(int needed) {
        if (needed > positions) {
            int p = Math.max(256, Integer.highestOneBit(needed - 1) << 1);
            int half = rotaryDim / 2;
            float[] c = new float[p * half];
            float[] s = new float[p * half];
            for (int k = 0; k < half; k++) {
                double freq = Math.pow(theta, -2.0 * k / rotaryDim);
                for (int pos = 0; pos < p; pos++) {
                    double a = pos * freq;
                    c[pos * half + k] = (float) Math.cos(a);
                    s[pos * half + k] = (float) Math.sin(a);
                }
            }
            cos = manager.create(c, new Shape(p, half));
            sin = manager.create(s, new Shape(p, half));
            NDScope.unregister(cos, sin);
            positions = p;
        }
        return new NDArray[] {cos, sin};
    }

    /** Rotates {@code x} [B, S, N, hd] by the angles from {@link #angles}. */
    NDArray apply(NDArray x, NDArray[] angles) {
        long hd = x.getShape().get(3);
        int half = rotaryDim / 2;
        NDArray x1 = x.get(":, :, :, 0:" + half);
        NDArray x2 = x.get(":, :, :, " + half + ":" + rotaryDim);
        NDArray r1 = x1.mul(angles[0]).sub(x2.mul(angles[1]));
        NDArray r2 = x2.mul(angles[0]).add(x1.mul(angles[1]));
        NDList parts = rotaryDim < hd ? new NDList(r1, r2, x.get(":, :, :, " + rotaryDim + ":")) : new NDList(r1, r2);
        return NDArrays.concat(parts, 3);
    }
}
