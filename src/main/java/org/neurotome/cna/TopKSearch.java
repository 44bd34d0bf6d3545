package org.neurotome.cna;

import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * The exact top k of one or more ranked lists over the same candidates, scoring as few
 * candidates exactly as their upper bounds allow ({@code docs/bounds.md}, "The early stop is
 * exact"). Each list has an upper bound per candidate and orders the eligible candidates by it
 * (largest first, NaN first, ties to the lower index); scoring a candidate gives its exact value
 * in every list, and candidates come in groups (a head is scored with its layer's heads) that
 * are scored whole. At depth d the scored set is every group holding one of the first d
 * candidates of some list. θ is a list's k-th best exact value among the scored (none before k
 * are), and a list is settled when its best unscored bound is below θ. While a list is not,
 * the search deepens to the next power of two, or, when that is deeper, only to the depth that
 * holds every candidate of an unsettled list whose bound reaches its θ (after which every list is
 * settled). So the rounds grow geometrically and θ rises before the bounds of weak candidates are
 * reached: the largest bounds are often the loosest, not the best values. Once every list is
 * settled, every unscored candidate's value is below its list's k-th, so the k best by value are
 * among the scored ones, ties included (they go to the lower index, as in {@link Ranking}).
 * Candidates outside the eligible set are never scored (they are left out of every list).
 *
 * <p>The depths do not depend on k except through θ, which only falls as k grows, so a search
 * for a smaller k scores a subset of what one for a larger k scored: {@link #replay} finds what a
 * search for a smaller top would have scored from this one's values alone.
 */
final class TopKSearch {
    private final int k;
    private final BitSet eligible;
    private final int group;
    private final List<float[]> bounds;
    private final int[][] order;
    private final float[][] exact;
    private final BitSet scored = new BitSet();
    private final int[] unscoredAt;
    private int depth;
    private boolean done;

    /**
     * @param k        the entries wanted per list (≥ 1)
     * @param eligible the candidates that may be ranked
     * @param bounds   per list, an upper bound of each candidate's value (NaN: unknown)
     * @param group    candidates {@code g·group … (g+1)·group − 1} are scored together (1: one by one)
     */
    TopKSearch(int k, BitSet eligible, List<float[]> bounds, int group) {
        this(k, eligible, bounds, group, orders(eligible, bounds));
    }

    private TopKSearch(int k, BitSet eligible, List<float[]> bounds, int group, int[][] order) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be at least 1, got " + k);
        }
        this.k = k;
        this.eligible = (BitSet) eligible.clone();
        this.group = group;
        this.bounds = List.copyOf(bounds);
        this.order = order;
        this.exact = new float[bounds.size()][];
        for (int j = 0; j < exact.length; j++) {
            exact[j] = new float[bounds.get(j).length];
            Arrays.fill(exact[j], Float.NaN);
        }
        this.unscoredAt = new int[bounds.size()];
    }

    /** The candidates to score next, ascending; empty when the top k of every list is known. */
    int[] next() {
        int n = eligible.cardinality();
        done |= n == 0;
        while (!done) {
            int target;
            if (depth == 0) {
                target = Math.min(n, k == 1 ? 1 : Integer.highestOneBit(k - 1) << 1);
            } else {
                int reach = 0;
                for (int j = 0; j < order.length; j++) {
                    float theta = kth(exact[j]);
                    while (unscoredAt[j] < n && scored.get(order[j][unscoredAt[j]])) {
                        unscoredAt[j]++;
                    }
                    boolean settled = unscoredAt[j] == n
                            || !Float.isNaN(theta) && key(bounds.get(j)[order[j][unscoredAt[j]]]) < theta;
                    if (!settled) {
                        reach = Math.max(reach, Float.isNaN(theta) ? n : reaching(j, theta));
                    }
                }
                if (reach == 0) {
                    done = true;
                    break;
                }
                target = Math.min(reach, Math.min(n, depth << 1));
            }
            BitSet out = new BitSet();
            for (int[] o : order) {
                for (int i = depth; i < target; i++) {
                    int g = o[i] / group;
                    out.set(g * group, (g + 1) * group);
                }
            }
            out.and(eligible);
            out.andNot(scored);
            depth = target;
            if (!out.isEmpty()) {
                return out.stream().toArray();
            }
        }
        return new int[0];
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

    /**
     * How many candidates a search for the top {@code top} over the same lists would score,
     * replayed with the values this search took; a search for a top up to this one's needs no
     * other value.
     *
     * @throws IllegalStateException when the replay needs a value this search did not take
     */
    int replay(int top) {
        TopKSearch r = new TopKSearch(top, eligible, bounds, group, order);
        for (int[] next = r.next(); next.length > 0; next = r.next()) {
            for (int c : next) {
                if (!scored.get(c)) {
                    throw new IllegalStateException("a search for the top " + top + " needs candidate " + c
                            + ", which the search for the top " + k + " did not score");
                }
                for (int j = 0; j < exact.length; j++) {
                    r.exact[j][c] = exact[j][c];
                }
            }
            r.scored(next);
        }
        return r.scoredCount();
    }

    /** Each list's eligible candidates by bound, largest first (NaN first; ties to the lower index). */
    private static int[][] orders(BitSet eligible, List<float[]> bounds) {
        int[] idx = eligible.stream().toArray();
        int[][] out = new int[bounds.size()][];
        long[] keys = new long[idx.length];
        for (int j = 0; j < out.length; j++) {
            float[] b = bounds.get(j);
            for (int i = 0; i < idx.length; i++) {
                int bits = Float.floatToIntBits(key(b[idx[i]]) + 0.0f);
                int ascending = bits ^ ((bits >> 31) & 0x7fffffff);
                keys[i] = ((long) ~ascending << 32) | idx[i];
            }
            Arrays.sort(keys);
            out[j] = new int[idx.length];
            for (int i = 0; i < idx.length; i++) {
                out[j][i] = (int) keys[i];
            }
        }
        return out;
    }

    /** How many of list {@code j}'s eligible candidates have a bound that is not below {@code theta}. */
    private int reaching(int j, float theta) {
        float[] b = bounds.get(j);
        int lo = 0;
        int hi = order[j].length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (key(b[order[j][mid]]) < theta) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
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
