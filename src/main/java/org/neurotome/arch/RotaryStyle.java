package org.neurotome.arch;

/**
 * How rotary position embeddings pair the dimensions of a head. {@link #ROTATE_HALF}: dims
 * i and i + n/2 (transformers' {@code rotate_half}, Llama/Mistral/Qwen2);
 * {@link #INTERLEAVED}: dims 2k and 2k+1 ({@code rotate_every_two}, GPT-J). In both, n is
 * the rotary dimension and the head's remaining dimensions pass through unrotated.
 */
public enum RotaryStyle {
    NONE, ROTATE_HALF, INTERLEAVED
}
