package org.neurotome.model;

/**
 * Multiplies FFN neuron {@code neuron} of layer {@code layer} by {@code factor} in batch row
 * {@code row}: its coefficient m_k at every position, so factor 0 equals zeroing its value
 * vector (column k of the down projection) (docs/method.md A5).
 */
public record NeuronScale(int row, int layer, int neuron, float factor) {
}
