package org.neurotome.cna;

import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * The exact top k of one or more ranked lists over the same candidates, scoring as few
 * candidates exactly as their upper bounds allow ({@code docs/bounds.md}). Each list has an
 * upper bound per candidate; scoring a candidate gives its exact value in every list. Round
 * one scores each list's k best bounds; after a round, θ is a list's k-th best exact value and
 * every unscored candidate whose bound is not below θ is scored next. Once no candidate is left
 * whose bound reaches its list's θ, every unscored candidate's value is below the k-th, so the
 * k best by value are among the scored ones, ties included (they go to the lower index, as in
 * {@link Ranking}). Two rounds always suffice: θ only grows. Candidates outside the eligible
 * set are never scored (they are left out of every list).
 */
final class TopKSearch {
    private final int k;
    private final BitSet eligible;
    private final List<float[]> bounds;
    private final float[][] exact;
    private final BitSet scored = new BitSet();
    private boolean started;

    /**
     * @param k        the entries wanted per list (≥ 1)
     * @param eligible the candidates that may be ranked
     * @param bounds   per list, an upper bound of each candidate's value (NaN: unknown)
     */
    TopKSearch(int k, BitSet eligible, List<float[]> bounds) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be at least 1, got " + k);
        }
        this.k = k;
        this.eligible = (BitSet) eligible.clone();
        this.bounds = List.copyOf(bounds);
        this.exact = new float[bounds.size()][];
        for (int j = 0; j < exact.length; j++) {
            exact[j] = new float[bounds.get(j).length];
            Arrays.fill(exact[j], Float.NaN);
        }
    }

    /** The candidates to score next, ascending; empty when the top k of every list is known. */
    int[] next() {
        BitSet out = new BitSet();
        for (int j = 0; j < bounds.size(); j++) {
            float[] b = bounds.get(j);
            if (!started) {
                for (int c : best(b, k)) {
                    out.set(c);
                }
                continue;
            }
            float theta = kth(exact[j]);
            for (int c = eligible.nextSetBit(0); c >= 0; c = eligible.nextSetBit(c + 1)) {
                if (!scored.get(c) && (Float.isNaN(theta) || !(b[c] < theta))) {
                    out.set(c);
                }
            }
        }
        started = true;
        return out.stream().toArray();
    }

    /** Records list {@code list}'s exact value of candidate {@code c}. */
    void set(int list, int c, float value) {
        exact[list][c] = value;
    }

    /** Marks {@code candidates} scored (their values in every list set). */
    void scored(int[] candidates) {
        for (int c : candidates) {
            scored.set(c);
        }
    }

    boolean isScored(int c) {
        return scored.get(c);
    }

    /** How many candidates were scored. */
    int scoredCount() {
        return scored.cardinality();
    }

    /** The {@code n} eligible, unscored candidates with the largest bounds (NaN first; ties to the lower index). */
    private int[] best(float[] b, int n) {
        int[] idx = eligible.stream().filter(c -> !scored.get(c)).toArray();
        if (idx.length <= n) {
            return idx;
        }
        float[] keys = new float[idx.length];
        for (int i = 0; i < idx.length; i++) {
            keys[i] = key(b[idx[i]]);
        }
        float[] sorted = keys.clone();
        Arrays.sort(sorted);
        float threshold = sorted[sorted.length - n];
        int[] out = new int[n];
        int at = 0;
        for (int i = 0; i < idx.length && at < n; i++) {
            if (keys[i] > threshold) {
                out[at++] = idx[i];
            }
        }
        for (int i = 0; i < idx.length && at < n; i++) {
            if (keys[i] == threshold) {
                out[at++] = idx[i];
            }
        }
        return out;
    }

    private static float key(float v) {
        return Float.isNaN(v) ? Float.POSITIVE_INFINITY : v;
    }

    /** The k-th largest scored eligible value (NaN ranks last, so a NaN k-th is NaN), or NaN when fewer than k are scored. */
    private float kth(float[] values) {
        int[] got = eligible.stream().filter(scored::get).toArray();
        if (got.length < k) {
            return Float.NaN;
        }
        float[] v = new float[got.length];
        for (int i = 0; i < got.length; i++) {
            v[i] = rank(values[got[i]]);
        }
        Arrays.sort(v);
        float t = v[v.length - k];
        return t == Float.NEGATIVE_INFINITY ? Float.NaN : t;
    }

    private static float rank(float v) {
        return Float.isNaN(v) ? Float.NEGATIVE_INFINITY : v;
    }
}
