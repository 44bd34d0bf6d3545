package org.neurotome.arch;

import java.util.Objects;

/**
 * The settings of a {@link ModelConfig} that only some families use, read from
 * {@code config.json} through the family's {@link Architecture} table; each one names the
 * families and the transformers config key it comes from.
 *
 * @param ropeScaling        {@code rope_scaling} (Llama 3.1, long-context Qwen, …)
 * @param queryPreAttnScalar attention scores are scaled by {@code queryPreAttnScalar^(−1/2)};
 *                           head_dim except in Gemma 2 ({@code query_pre_attn_scalar})
 * @param attnSoftcap        attention scores become {@code c·tanh(scores / c)} (Gemma 2; 0: none)
 * @param finalSoftcap       logits become {@code c·tanh(logits / c)} (Gemma 2; 0: none)
 * @param parallelResidual   {@code x + attn(·) + ffn(·)} both reading x (GPT-J, GPT-NeoX's
 *                           {@code use_parallel_residual}) instead of one after the other
 * @param clipQkv            q, k and v are clamped to [−c, c] after the q/k norms (OLMoE's
 *                           {@code clip_qkv}; 0: none)
 * @param ropeLocalTheta     the rotary base of the local (sliding-window) layers, which are not
 *                           rope-scaled (Gemma 3's {@code rope_local_base_freq}; 0: every layer
 *                           uses {@code rope_theta})
 * @param windowPattern      every {@code windowPattern}-th layer is global, the others local
 *                           (Gemma 3's {@code sliding_window_pattern}; 0 where the table fixes the
 *                           local layers)
 * @param experts            the mixture-of-experts settings ({@link Experts#NONE} for a dense model)
 */
public record Features(RopeScaling ropeScaling, double queryPreAttnScalar, double attnSoftcap, double finalSoftcap,
                       boolean parallelResidual, double clipQkv, double ropeLocalTheta, int windowPattern,
                       Experts experts) {
    public Features {
        ModelConfig.check(queryPreAttnScalar > 0, "query_pre_attn_scalar", queryPreAttnScalar);
        ModelConfig.check(attnSoftcap >= 0 && Double.isFinite(attnSoftcap), "attn_logit_softcapping", attnSoftcap);
        ModelConfig.check(finalSoftcap >= 0 && Double.isFinite(finalSoftcap), "final_logit_softcapping", finalSoftcap);
        ModelConfig.check(clipQkv >= 0 && Double.isFinite(clipQkv), "clip_qkv", clipQkv);
        ModelConfig.check(ropeLocalTheta >= 0 && Double.isFinite(ropeLocalTheta), "rope_local_base_freq", ropeLocalTheta);
        ModelConfig.check(windowPattern >= 0, "sliding_window_pattern", windowPattern);
        Objects.requireNonNull(experts, "experts");
    }

    /** A family's plain settings: no rope scaling, scores over √head_dim, no soft-capping, the table's block. */
    public static Features plain(String modelType, int headDim) {
        return new Features(RopeScaling.NONE, headDim, 0, 0, Architecture.forModelType(modelType).parallelBlock(),
                0, 0, 0, Experts.NONE);
    }
}
