package org.neurotome.cna;

import org.junit.jupiter.api.Test;

import java.util.BitSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pieces of the bounds of {@code docs/bounds.md} that are checked by hand: the coefficient
 * {@code g(R)} of the tail's second-order term, and the rounds of the top-k search.
 */
class LogProbBoundsTest {
    /** {@code e^x ≤ 1 + x + g(R)·x²} for every x ≤ R, and g(R) is the least such coefficient (at x = R). */
    @Test
    void excessBoundsTheExponentialBelowItsRange() {
        for (double r : new double[] {0, 1e-9, 1e-4, 9.99e-4, 1e-3, 0.1, 1, 3, 11, 30}) {
            double g = LogProbBounds.excess(r);
            for (double x = -40; x <= r; x += Math.max(r, 1) / 997) {
                double exact = Math.exp(x);
                assertTrue(exact <= 1 + x + g * x * x + 1e-12 * exact, "R " + r + " x " + x);
            }
            double tight = r == 0 ? 0.5 : (Math.exp(r) - 1 - r) / (r * r);
            assertEquals(r < 1e-3 ? 0.5 + r / 6 : tight, g, r < 1e-3 ? r * r / 12 + 1e-15 : 1e-9 * tight, "R " + r);
        }
    }

    /**
     * Loose bounds on the weakest candidates do not make the search score everything: round one
     * scores the k largest bounds, later rounds at most as many as are scored, and the search
     * stops once every unscored bound is below the k-th exact value.
     */
    @Test
    void roundsGrowAndStopAtTheKthValue() {
        int n = 1000;
        int k = 5;
        float[] value = new float[n];
        float[] bound = new float[n];
        for (int c = 0; c < n; c++) {
            value[c] = c < 50 ? -1 : (float) c / n;                  // 0 … 49: weak, with the largest bounds
            bound[c] = c < 50 ? 10 : value[c] + 0.01f;
        }
        BitSet all = new BitSet();
        all.set(0, n);
        TopKSearch search = new TopKSearch(k, all, List.of(bound));
        int[] sizes = new int[10];
        int rounds = 0;
        for (int[] next = search.next(); next.length > 0; next = search.next()) {
            sizes[rounds++] = next.length;
            for (int c : next) {
                search.set(0, c, value[c]);
            }
            search.scored(next);
        }
        assertArrayEquals(new int[] {5, 5, 10, 20, 40, 0, 0, 0, 0, 0}, sizes);
        for (int c = n - k; c < n; c++) {
            assertTrue(search.isScored(c), "candidate " + c);
        }
        assertEquals(80, search.scoredCount());
    }
}
