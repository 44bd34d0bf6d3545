package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The coefficient {@code g(R)} of the second-order tail term of the lower bound
 * ({@code docs/bounds.md}, "Lower bound, and the CNA bound"), and the value-vector norms the
 * bounds scale by.
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
     * {@link LogProbBounds#rowNorms} of a matrix kept as the transpose of a contiguous one (as
     * the down projection's value vectors are) and of a contiguous one: each at least the norm
     * summed in double here, and within two float ulps of it.
     */
    @Test
    void rowNormsAreTheNormsRoundedUpInEitherLayout() {
        int rows = 37;
        int cols = 53;
        Random random = new Random(11);
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * (1 + i % 7));
        }
        double[] exact = new double[rows];
        for (int r = 0; r < rows; r++) {
            double sq = 0;
            for (int c = 0; c < cols; c++) {
                sq += (double) x[r * cols + c] * x[r * cols + c];
            }
            exact[r] = Math.sqrt(sq);
        }
        float[] xt = new float[cols * rows];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                xt[c * rows + r] = x[r * cols + c];
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray contiguous = m.create(x, new Shape(rows, cols));
            NDArray transposed = m.create(xt, new Shape(cols, rows)).transpose();
            for (NDArray a : new NDArray[] {contiguous, transposed}) {
                float[] got = LogProbBounds.rowNorms(a);
                assertEquals(rows, got.length);
                for (int r = 0; r < rows; r++) {
                    assertTrue(got[r] >= exact[r], "row " + r + ": " + got[r] + " < " + exact[r]);
                    assertTrue(got[r] <= exact[r] + 2 * Math.ulp((float) exact[r]), "row " + r);
                }
            }
        }
    }
}
