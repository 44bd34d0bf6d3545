package org.neurotome.cna;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rounds of {@link TopKSearch} ({@code docs/bounds.md}, "The early stop is exact"): the k
 * best values are scored, loose bounds on weak candidates do not make it score everything, and a
 * replay for a smaller top from a larger top's values gives what a fresh search for it scores.
 */
class TopKSearchTest {
    /** A search run to the end against {@code value} [list][candidate]. */
    private static TopKSearch run(int k, BitSet eligible, List<float[]> bounds, float[][] value, int group) {
        TopKSearch s = new TopKSearch(k, eligible, bounds, group);
        for (int[] next = s.next(); next.length > 0; next = s.next()) {
            for (int c : next) {
                assertTrue(eligible.get(c), "only eligible candidates are scored");
                assertTrue(!s.isScored(c), "no candidate is scored twice");
                for (int j = 0; j < value.length; j++) {
                    s.set(j, c, value[j][c]);
                }
            }
            s.scored(next);
        }
        return s;
    }

    @Test
    void looseBoundsOnWeakCandidatesAreNotAllScored() {
        int n = 1000;
        float[] value = new float[n];
        float[] bound = new float[n];
        for (int c = 0; c < n; c++) {
            value[c] = c < 50 ? -1 : (float) c / n;                  // 0 … 49: weak, with the largest bounds
            bound[c] = c < 50 ? 10 : value[c] + 0.01f;
        }
        BitSet all = new BitSet();
        all.set(0, n);
        TopKSearch s = run(5, all, List.of(bound), new float[][] {value}, 1);
        for (int c = n - 5; c < n; c++) {
            assertTrue(s.isScored(c), "candidate " + c);
        }
        assertTrue(s.scoredCount() < 100, "scored " + s.scoredCount());
    }

    @Test
    void replayForASmallerTopIsAFreshSearch() {
        Random rnd = new Random(21);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + rnd.nextInt(400);
            int lists = 1 + rnd.nextInt(4);
            int group = rnd.nextBoolean() ? 1 : 1 + rnd.nextInt(8);
            BitSet eligible = new BitSet();
            for (int c = 0; c < n; c++) {
                if (rnd.nextInt(5) > 0) {
                    eligible.set(c);
                }
            }
            float[][] value = new float[lists][n];
            List<float[]> bounds = new ArrayList<>();
            for (int j = 0; j < lists; j++) {
                float[] b = new float[n];
                for (int c = 0; c < n; c++) {
                    value[j][c] = rnd.nextInt(10) == 0 ? Float.NaN : (float) rnd.nextGaussian();
                    float slack = rnd.nextInt(10) == 0 ? 5 + 5 * rnd.nextFloat() : rnd.nextFloat() * 0.3f;
                    b[c] = rnd.nextInt(50) == 0 ? Float.NaN : Float.isNaN(value[j][c]) ? slack : value[j][c] + slack;
                }
                bounds.add(b);
            }
            int big = 1 + rnd.nextInt(40);
            TopKSearch large = run(big, eligible, bounds, value, group);
            for (int k = 1; k <= big; k++) {
                TopKSearch fresh = run(k, eligible, bounds, value, group);
                assertEquals(fresh.scoredCount(), large.replay(k), "trial " + trial + ", top " + k + " of " + big);
                for (int c = 0; c < n; c++) {
                    assertTrue(!fresh.isScored(c) || large.isScored(c), "trial " + trial
                            + ": a smaller top scores a subset");
                }
                // exact: every candidate among the k best of each list is scored
                for (int j = 0; j < lists; j++) {
                    for (int c = eligible.nextSetBit(0); c >= 0; c = eligible.nextSetBit(c + 1)) {
                        int above = 0;
                        for (int d = eligible.nextSetBit(0); d >= 0; d = eligible.nextSetBit(d + 1)) {
                            if (!Float.isNaN(value[j][d]) && (Float.isNaN(value[j][c]) || value[j][d] > value[j][c]
                                    || value[j][d] == value[j][c] && d < c)) {
                                above++;
                            }
                        }
                        if (above < k && !Float.isNaN(value[j][c])) {
                            assertTrue(fresh.isScored(c), "trial " + trial + ": list " + j + "'s top " + k
                                    + " holds candidate " + c);
                        }
                    }
                }
            }
        }
    }
}
