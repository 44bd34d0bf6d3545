package org.neurotome.model;

import ai.djl.ndarray.NDArray;

/**
 * One transformer block's weights in the runtime's orientation. Matrices that read the
 * residual stream are stored like {@code nn.Linear}, [out, in]; matrices that write into it
 * are stored [in, out], so that row r is the vector input feature r adds to the residual
 * (row k of {@link #ffnOut} is FFN neuron k's value vector, rows {@code h·hd … (h+1)·hd − 1}
 * of {@link #o} are head h's slice of the output projection). Optional tensors are null.
 *
 * @param qkv      [(H + 2·KV)·hd, D]: q heads, then k heads, then v heads ({@code (n h)} order),
 *                 whatever the checkpoint's fusion (GPT-NeoX's per-head blocks are regrouped);
 *                 for interleaved rotary (GPT-J) the rotated dims of each q/k head are reordered
 *                 evens-then-odds, so one rotate-half rule serves every family (q·k is unchanged)
 * @param o        [H·hd, D]
 * @param ln1      the attention's norm; null where blocks norm only their outputs (OLMo 2)
 * @param ln2      the FFN's norm; null for a parallel block whose FFN reads the attention's norm (GPT-J),
 *                 and where blocks norm only their outputs (OLMo 2)
 * @param ffnIn    [I, D], or [2I, D] for a gated MLP: gate rows first, then up rows (null in a sparse layer)
 * @param ffnOut   [I, D] (null in a sparse layer)
 * @param qNorm    [hd]: the RMSNorm weight of every query head, applied before rotary (Qwen3, Gemma 3),
 *                 or [H·hd]: of the whole q projection (OLMo 2); or null
 * @param kNorm    [hd] or [KV·hd]: the same for keys, or null
 * @param ln1Post  [D]: the norm of the attention output before the residual adds it (Gemma 2, OLMo 2), or null
 * @param ln2Post  [D]: the norm of the FFN output before the residual adds it (Gemma 2, OLMo 2), or null
 * @param router       [E, D]: a sparse layer's router, or null in a dense layer. A sparse layer has
 *                     no {@code ffnIn}, {@code ffnOut} or their biases (null): each routed expert is
 *                     its own FFN ({@link ExpertWeights}) in {@code experts}, the shared one in
 *                     {@code sharedExpert}; their neurons are numbered as one FFN of
 *                     W = E·I_e + I_s neurons, expert-major with the shared expert's last
 * @param sharedGate   [1, D]: the sigmoid gate of a shared expert (Qwen2-MoE), or null
 * @param experts      a sparse layer's routed experts, kept or read per use ({@link LayerExperts}); null in a dense layer
 * @param sharedExpert a sparse layer's shared expert (Qwen2-MoE), or null
 */
public record LayerWeights(NDArray ln1, NDArray ln1Bias, NDArray qkv, NDArray qkvBias, NDArray o, NDArray oBias,
                           NDArray ln2, NDArray ln2Bias, NDArray ffnIn, NDArray ffnInBias, NDArray ffnOut,
                           NDArray ffnOutBias, NDArray qNorm, NDArray kNorm, NDArray ln1Post, NDArray ln2Post,
                           NDArray router, NDArray sharedGate, LayerExperts experts,
                           ExpertWeights sharedExpert) {
    /** A dense layer's weights: no router. */
    public LayerWeights(NDArray ln1, NDArray ln1Bias, NDArray qkv, NDArray qkvBias, NDArray o, NDArray oBias,
                        NDArray ln2, NDArray ln2Bias, NDArray ffnIn, NDArray ffnInBias, NDArray ffnOut,
                        NDArray ffnOutBias, NDArray qNorm, NDArray kNorm, NDArray ln1Post, NDArray ln2Post) {
        this(ln1, ln1Bias, qkv, qkvBias, o, oBias, ln2, ln2Bias, ffnIn, ffnInBias, ffnOut, ffnOutBias, qNorm, kNorm,
                ln1Post, ln2Post, null, null, null, null);
    }
}
