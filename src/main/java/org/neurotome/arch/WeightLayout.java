package org.neurotome.arch;

/**
 * How a family stores the matrices of its layers. {@code nn.Linear} stores [out, in] and
 * computes {@code y = x·Wᵀ + b}; GPT-2's {@code Conv1D} (transformers/pytorch_utils.py)
 * stores [in, out] and computes {@code y = x·W + b}. The LM head is an {@code nn.Linear}
 * in every family.
 */
public enum WeightLayout {
    LINEAR, CONV1D
}
