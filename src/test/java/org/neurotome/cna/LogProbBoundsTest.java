package org.neurotome.cna;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The coefficient {@code g(R)} of the second-order tail term of the lower bound
 * ({@code docs/bounds.md}, "Lower bound, and the CNA bound").
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
}
