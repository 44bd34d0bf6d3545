package org.neurotome.eval;

/**
 * McNemar's test for paired binary outcomes (McNemar 1947): did the candidate get
 * significantly more cases wrong than the baseline on the same cases? Only the discordant
 * counts matter — b (baseline right, candidate wrong) and c (baseline wrong, candidate right);
 * under the null hypothesis each discordant case is equally likely to fall either way, so
 * b ~ Binomial(b + c, 1/2).
 *
 * <ul>
 *   <li>{@link #exact}: two-sided exact binomial p = min(1, 2·P(X ≤ min(b, c))).</li>
 *   <li>{@link #chiSquare}: χ² = (|b − c| − 1)² / (b + c) with Edwards' continuity correction,
 *       p = P(χ²₁ ≥ χ²) = erfc(√(χ²/2)).</li>
 *   <li>{@link #pValue}: the exact test when b + c &lt; 25, the χ² approximation above that
 *       (the usual rule, e.g. Fagerland, Lydersen &amp; Laake 2013).</li>
 * </ul>
 */
public final class McNemar {
    /** Below this many discordant pairs the exact binomial test is used. */
    public static final long EXACT_BELOW = 25;

    private McNemar() {
    }

    /** The two-sided p-value by the rule above. */
    public static double pValue(long b, long c) {
        return b + c < EXACT_BELOW ? exact(b, c) : chiSquare(b, c);
    }

    /** Which test {@link #pValue} uses for these counts: "exact" or "chi-square". */
    public static String method(long b, long c) {
        return b + c < EXACT_BELOW ? "exact" : "chi-square";
    }

    /** Two-sided exact binomial p-value: min(1, 2·P(X ≤ min(b, c))) with X ~ Bin(b + c, 1/2). */
    public static double exact(long b, long c) {
        requireCounts(b, c);
        long n = b + c;
        if (n == 0) {
            return 1.0;
        }
        long k = Math.min(b, c);
        // Σ_{i ≤ k} C(n, i) / 2^n, term by term in log space so large n does not underflow early
        double logC = 0.0; // log C(n, 0)
        double tail = 0.0;
        double log2n = n * Math.log(2.0);
        for (long i = 0; i <= k; i++) {
            if (i > 0) {
                logC += Math.log((double) (n - i + 1) / i);
            }
            tail += Math.exp(logC - log2n);
        }
        return Math.min(1.0, 2.0 * tail);
    }

    /** The continuity-corrected χ² statistic (|b − c| − 1)² / (b + c); 0 when b + c = 0. */
    public static double statistic(long b, long c) {
        requireCounts(b, c);
        long n = b + c;
        if (n == 0) {
            return 0.0;
        }
        double d = Math.max(0.0, Math.abs(b - c) - 1.0);
        return d * d / n;
    }

    /** Two-sided p-value of the continuity-corrected χ² statistic with one degree of freedom. */
    public static double chiSquare(long b, long c) {
        return chiSquareSurvival(statistic(b, c));
    }

    /** P(χ²₁ ≥ x) = erfc(√(x/2)). */
    public static double chiSquareSurvival(double x) {
        return x <= 0 ? 1.0 : erfc(Math.sqrt(x / 2.0));
    }

    /**
     * The complementary error function, by the Chebyshev fit of Numerical Recipes (2nd ed.,
     * §6.2, {@code erfcc}); fractional error below 1.2e-7 everywhere.
     */
    static double erfc(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double ans = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? ans : 2.0 - ans;
    }

    private static void requireCounts(long b, long c) {
        if (b < 0 || c < 0) {
            throw new IllegalArgumentException("discordant counts must be >= 0; got b=" + b + ", c=" + c);
        }
    }
}
