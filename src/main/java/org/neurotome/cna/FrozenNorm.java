package org.neurotome.cna;

import org.neurotome.arch.NormKind;

/**
 * The final norm frozen at the statistics of one run's final residual {@code h = x^L_T}
 * (docs/method.md A2; the {@code get_bsvalues} of Yu &amp; Ananiadou's notebooks): every partial
 * residual is divided by the same {@code sqrt(finalVar + eps)} instead of its own, which makes
 * the projection linear in its input. {@code finalVar} is {@code mean(h²)} for RMSNorm and
 * the biased variance {@code mean((h − mean h)²)} for LayerNorm.
 */
public record FrozenNorm(NormKind kind, double finalVar, double eps) {

    public FrozenNorm {
        if (!(finalVar >= 0) || !(eps > 0)) {
            throw new IllegalArgumentException("final_var must be ≥ 0 and eps > 0, got " + finalVar + ", " + eps);
        }
    }

    /** The norm frozen at {@code finalResidual}, the last layer's output at the scored position. */
    public static FrozenNorm of(float[] finalResidual, NormKind kind, double eps) {
        double mean = 0;
        if (kind == NormKind.LAYERNORM) {
            for (float v : finalResidual) {
                mean += v;
            }
            mean /= finalResidual.length;
        }
        double sq = 0;
        for (float v : finalResidual) {
            sq += (v - mean) * (v - mean);
        }
        return new FrozenNorm(kind, sq / finalResidual.length, eps);
    }

    /** The divisor {@code sqrt(finalVar + eps)}. */
    public double scale() {
        return Math.sqrt(finalVar + eps);
    }
}
