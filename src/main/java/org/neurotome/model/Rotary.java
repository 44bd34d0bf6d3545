package org.neurotome.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import org.neurotome.arch.RopeScaling;

import java.util.Arrays;

/**
 * Rotary position embeddings (Su et al. 2021, RoFormer) in the rotate-half form of
 * transformers' {@code apply_rotary_pos_emb} (modeling_llama.py): on the first n = rotary
 * dims of a head, dims i and i + n/2 rotate by angle {@code pos · f_i}; the rest pass through.
 * GPT-J's interleaved pairs reach this form by a fixed reordering of q/k rows at load time
 * ({@link LayerWeights#qkv()}). The inverse frequencies {@code f_i} are {@code θ^(−2i/n)},
 * rescaled as {@code rope_scaling} says (transformers' {@code modeling_rope_utils.py}):
 * {@code linear} divides them by the factor; {@code dynamic} (NTK) raises θ once a sequence
 * is longer than {@code max_position_embeddings}, for each row by its own length, as that row
 * would run alone; {@code llama3} divides the low-frequency band by the factor and blends the
 * middle one; {@code yarn} blends interpolated and extrapolated frequencies over a ramp of
 * dimensions and multiplies cos and sin by its attention factor. Angles are computed in float64.
 */
final class Rotary {
    private final int rotaryDim;
    private final double theta;
    private final RopeScaling scaling;
    private final int maxPositions;
    private final double[] inverseFrequencies;
    private final double attentionFactor;
    private final NDManager manager;
    private NDArray cos;
    private NDArray sin;
    private int positions;

    Rotary(int rotaryDim, double theta, RopeScaling scaling, int maxPositions, NDManager manager) {
        this.rotaryDim = rotaryDim;
        this.theta = theta;
        this.scaling = scaling;
        this.maxPositions = maxPositions;
        this.inverseFrequencies = inverseFrequencies(rotaryDim, theta, scaling, maxPositions, maxPositions);
        this.attentionFactor = attentionFactor(scaling);
        this.manager = manager;
    }

    /**
     * The n/2 inverse frequencies of a sequence of {@code seqLen} positions (only
     * {@code dynamic} depends on it) for a model of {@code maxPositions}
     * ({@code max_position_embeddings}).
     */
    static double[] inverseFrequencies(int n, double theta, RopeScaling s, int maxPositions, int seqLen) {
        int half = n / 2;
        double[] plain = new double[half];
        for (int k = 0; k < half; k++) {
            plain[k] = Math.pow(theta, -2.0 * k / n);
        }
        double f = s.factor();
        return switch (s.type()) {
            case NONE -> plain;
            case LINEAR -> Arrays.stream(plain).map(x -> x / f).toArray();
            case DYNAMIC -> {
                if (seqLen <= maxPositions) {
                    yield plain; // the base is θ·1^(n/(n−2)) = θ
                }
                double base = theta * Math.pow(f * seqLen / maxPositions - (f - 1), (double) n / (n - 2));
                double[] out = new double[half];
                for (int k = 0; k < half; k++) {
                    out[k] = Math.pow(base, -2.0 * k / n);
                }
                yield out;
            }
            case LLAMA3 -> {
                double original = s.originalMaxPositions();
                double lowWavelength = original / s.lowFreqFactor();
                double highWavelength = original / s.highFreqFactor();
                double[] out = new double[half];
                for (int k = 0; k < half; k++) {
                    double wavelength = 2 * Math.PI / plain[k];
                    if (wavelength < highWavelength) {
                        out[k] = plain[k];
                    } else if (wavelength > lowWavelength) {
                        out[k] = plain[k] / f;
                    } else {
                        double smooth = (original / wavelength - s.lowFreqFactor())
                                / (s.highFreqFactor() - s.lowFreqFactor());
                        out[k] = (1 - smooth) * plain[k] / f + smooth * plain[k];
                    }
                }
                yield out;
            }
            case YARN -> {
                int original = s.originalMaxPositions() > 0 ? s.originalMaxPositions() : maxPositions;
                double low = correctionDim(s.betaFast(), n, theta, original);
                double high = correctionDim(s.betaSlow(), n, theta, original);
                if (s.truncate()) {
                    low = Math.floor(low);
                    high = Math.ceil(high);
                }
                low = Math.max(low, 0);
                high = Math.min(high, n - 1);
                if (low == high) {
                    high += 0.001; // transformers' guard against a zero-width ramp
                }
                double[] out = new double[half];
                for (int k = 0; k < half; k++) {
                    double ramp = Math.clamp((k - low) / (high - low), 0.0, 1.0);
                    double extrapolation = 1 - ramp;                 // 1: keep the original frequency
                    out[k] = plain[k] / f * (1 - extrapolation) + plain[k] * extrapolation;
                }
                yield out;
            }
        };
    }

    /** YaRN's inverse dimension formula: the dimension that turns {@code rotations} times over {@code positions}. */
    private static double correctionDim(double rotations, int n, double theta, int positions) {
        return n * Math.log(positions / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
    }

    /** The factor on cos and sin: YaRN's {@code attention_factor} (given, or from mscale or the factor); else 1. */
    static double attentionFactor(RopeScaling s) {
        if (s.type() != RopeScaling.Type.YARN) {
            return 1;
        }
        if (s.attentionFactor() > 0) {
            return s.attentionFactor();
        }
        if (s.mscale() > 0 && s.mscaleAllDim() > 0) {
            return mscale(s.factor(), s.mscale()) / mscale(s.factor(), s.mscaleAllDim());
        }
        return mscale(s.factor(), 1);
    }

    private static double mscale(double scale, double m) {
        return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
    }

    /**
     * cos and sin of the angles at {@code positionIds} [B, S] (positions {@code offset …}) for
     * rows of {@code lengths} after {@code offset} cached positions, each [B, S, 1, n/2], times
     * the attention factor.
     */
    NDArray[] angles(NDArray positionIds, int offset, int[] lengths) {
        Shape s = positionIds.getShape();
        Shape out = new Shape(s.get(0), s.get(1), 1, rotaryDim / 2);
        int longest = offset + Arrays.stream(lengths).max().orElse(1);
        if (scaling.type() == RopeScaling.Type.DYNAMIC && longest > maxPositions) {
            return perRow(positionIds.getManager(), offset, lengths, (int) s.get(1), out);
        }
        NDArray[] tables = tables(offset + (int) s.get(1));
        NDArray c = positionIds.getNDArrayInternal().embedding(positionIds, tables[0], SparseFormat.DENSE)
                .singletonOrThrow().reshape(out);
        NDArray sn = positionIds.getNDArrayInternal().embedding(positionIds, tables[1], SparseFormat.DENSE)
                .singletonOrThrow().reshape(out);
        return new NDArray[] {c, sn};
    }

    /**
     * Dynamic NTK past the trained length: each row's angles from the frequencies of its own
     * length (its cached positions included).
     */
    private NDArray[] perRow(NDManager m, int offset, int[] lengths, int seq, Shape shape) {
        int half = rotaryDim / 2;
        float[] c = new float[lengths.length * seq * half];
        float[] sn = new float[c.length];
        for (int r = 0; r < lengths.length; r++) {
            double[] freq = inverseFrequencies(rotaryDim, theta, scaling, maxPositions, offset + lengths[r]);
            for (int pos = 0; pos < seq; pos++) {
                for (int k = 0; k < half; k++) {
                    double a = (offset + pos) * freq[k];
                    int i = (r * seq + pos) * half + k;
                    c[i] = (float) (Math.cos(a) * attentionFactor);
                    sn[i] = (float) (Math.sin(a) * attentionFactor);
                }
            }
        }
        return new NDArray[] {Transformer.owned(m.create(c, shape)), Transformer.owned(m.create(sn, shape))};
    }

    /** The tables [P, n/2] covering at least {@code needed} positions, grown by doubling. */
    private synchronized NDArray[] tables(int needed) {
        if (needed > positions) {
            int p = Math.max(256, Integer.highestOneBit(needed - 1) << 1);
            int half = rotaryDim / 2;
            float[] c = new float[p * half];
            float[] s = new float[p * half];
            for (int k = 0; k < half; k++) {
                double freq = inverseFrequencies[k];
                for (int pos = 0; pos < p; pos++) {
                    double a = pos * freq;
                    c[pos * half + k] = (float) (Math.cos(a) * attentionFactor);
                    s[pos * half + k] = (float) (Math.sin(a) * attentionFactor);
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
