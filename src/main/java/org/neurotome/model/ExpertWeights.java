package org.neurotome.model;

import ai.djl.ndarray.NDArray;

/**
 * One expert of a sparse layer in the runtime's orientation (see {@link LayerWeights}): a
 * SwiGLU FFN of its own, as transformers' {@code modeling_mixtral.py} {@code MixtralBlockSparseTop2MLP}
 * (and Qwen2-MoE's shared expert) computes it. Each expert is its own pair of arrays, so no
 * array of a layer grows with its number of experts.
 *
 * @param in  [2·I_e, D]: the gate rows, then the up rows
 * @param out [I_e, D]: row k is the expert's neuron k's value vector (column k of its down projection)
 */
public record ExpertWeights(NDArray in, NDArray out) {
}
