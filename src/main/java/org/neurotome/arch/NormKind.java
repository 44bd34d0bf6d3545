package org.neurotome.arch;

/**
 * The normalisation a family uses. {@link #RMSNORM}: {@code x / sqrt(mean(x²) + eps) ⊙ w}
 * (LlamaRMSNorm); {@link #LAYERNORM}: {@code (x − mean) / sqrt(var + eps) ⊙ w + b} with the
 * biased variance ({@code nn.LayerNorm}).
 */
public enum NormKind {
    RMSNORM, LAYERNORM
}
