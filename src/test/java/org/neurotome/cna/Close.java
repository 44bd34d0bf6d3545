package org.neurotome.cna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Element-wise tolerance checks that name the worst element. */
final class Close {
    private Close() {
    }

    /** |expected − actual| ≤ tol everywhere (NaN fails). */
    static void assertAbs(String what, float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, what + ": length");
        double worst = -1;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs((double) expected[i] - actual[i]);
            if (Double.isNaN(err)) {
                err = Double.POSITIVE_INFINITY;
            }
            if (err > worst) {
                worst = err;
                at = i;
            }
        }
        int a = at;
        double w = worst;
        assertTrue(worst <= tol, () -> what + ": element " + a + " expected " + expected[a] + " got " + actual[a]
                + " (error " + w + " > " + tol + ")");
    }

    static void assertAbs(String what, double expected, double actual, double tol) {
        assertTrue(Math.abs(expected - actual) <= tol, () -> what + ": expected " + expected + " got " + actual
                + " (error " + Math.abs(expected - actual) + " > " + tol + ")");
    }

    static float[] flat(float[][] m) {
        int n = 0;
        for (float[] r : m) {
            n += r.length;
        }
        float[] out = new float[n];
        int o = 0;
        for (float[] r : m) {
            System.arraycopy(r, 0, out, o, r.length);
            o += r.length;
        }
        return out;
    }

    static float[] floats(double[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }
}
