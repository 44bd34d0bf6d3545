package org.neurotome.model;

/**
 * Multiplies head {@code head} of layer {@code layer} by {@code factor} in batch row
 * {@code row}: its attention output (before the output projection) at every position, so
 * factor 0 ablates the head exactly as zeroing its slice of the output projection does
 * (docs/method.md A3). Biases are kept.
 */
public record HeadScale(int row, int layer, int head, float factor) {
}
