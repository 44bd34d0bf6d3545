package org.neurotome.model;

/**
 * Takes expert {@code expert} of sparse layer {@code layer} out of the routing in batch row
 * {@code row}: its router logit is −∞ at every position, so the softmax, the top-k choice and
 * the renormalisation run over the remaining experts — the same output as a checkpoint without
 * that expert (transformers' {@code MixtralSparseMoeBlock} with the expert's router row
 * dropped). Zeroing the expert's output instead would leave its probability in the
 * renormalisation and change the other experts' weights.
 */
public record ExpertRemoval(int row, int layer, int expert) {
}
