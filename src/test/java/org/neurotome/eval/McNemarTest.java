package org.neurotome.eval;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** McNemar p-values against hand computation and χ² tables. */
class McNemarTest {

    @Test
    void exactTestIsTwiceTheBinomialTail() {
        // b=0, c=5: P(X <= 0) = 1/32, two-sided 2/32
        assertEquals(0.0625, McNemar.exact(0, 5), 1e-15);
        // b=2, c=8: P(X <= 2) = (1 + 10 + 45) / 1024
        assertEquals(2.0 * 56 / 1024, McNemar.exact(2, 8), 1e-15);
        // b=6, c=2: P(X <= 2) = (1 + 8 + 28) / 256
        assertEquals(2.0 * 37 / 256, McNemar.exact(6, 2), 1e-15);
    }

    @Test
    void exactTestIsSymmetricAndCappedAtOne() {
        assertEquals(McNemar.exact(3, 11), McNemar.exact(11, 3), 0.0);
        assertEquals(1.0, McNemar.exact(5, 5), 0.0);
        assertEquals(1.0, McNemar.exact(0, 0), 0.0);
    }

    @Test
    void exactTestOnALargeSampleMatchesExactIntegerArithmetic() {
        // 2 * sum_{i<=40} C(100, i) / 2^100, summed with exact integers
        assertEquals(0.05688793364098079, McNemar.exact(40, 60), 1e-12);
        // n = 2000: C(2000, 900) overflows a double and 2^-2000 underflows one; the log-space sum does neither
        assertEquals(8.457089535503927e-06, McNemar.exact(900, 1100), 1e-13);
    }

    @Test
    void chiSquareStatisticHasTheContinuityCorrection() {
        // (|10 - 30| - 1)^2 / 40
        assertEquals(361.0 / 40, McNemar.statistic(10, 30), 1e-15);
        // |b - c| <= 1 gives 0, not a negative correction squared
        assertEquals(0.0, McNemar.statistic(3, 4), 0.0);
        assertEquals(0.0, McNemar.statistic(0, 0), 0.0);
    }

    @Test
    void chiSquareSurvivalMatchesTableCriticalValues() {
        // χ²(1) critical values for 0.05, 0.01, 0.001 and P(χ²₁ >= 1) = erfc(1/√2)
        assertEquals(0.05, McNemar.chiSquareSurvival(3.841458820694124), 1e-7);
        assertEquals(0.01, McNemar.chiSquareSurvival(6.634896601021214), 1e-8);
        assertEquals(0.001, McNemar.chiSquareSurvival(10.827566170662733), 1e-9);
        assertEquals(0.31731050786291415, McNemar.chiSquareSurvival(1.0), 1e-7);
        assertEquals(1.0, McNemar.chiSquareSurvival(0.0), 0.0);
    }

    @Test
    void pValueUsesTheExactTestBelowTwentyFiveDiscordantPairs() {
        assertEquals(McNemar.exact(6, 18), McNemar.pValue(6, 18), 0.0);
        assertEquals("exact", McNemar.method(6, 18));
        // 25 pairs: χ² = (15 - 1)^2 / 25 = 7.84
        assertEquals(McNemar.chiSquareSurvival(7.84), McNemar.pValue(5, 20), 1e-15);
        assertEquals("chi-square", McNemar.method(5, 20));
        assertEquals(0.005110260660855864, McNemar.pValue(5, 20), 1e-8);
    }

    @Test
    void negativeCountsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> McNemar.exact(-1, 3));
        assertThrows(IllegalArgumentException.class, () -> McNemar.statistic(2, -3));
    }
}
