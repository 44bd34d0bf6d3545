package org.neurotome.model;

import ai.djl.ndarray.types.Shape;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;

import java.util.Arrays;

/**
 * Shapes of one batch of a {@link Transformer} pass: rows, padded length, each row's length,
 * and the positions cached before it; and the attention masks over them, causal and, on the
 * layers a family windows, within a sliding window (transformers' {@code masking_utils.py}
 * {@code causal_mask_function}, {@code sliding_window_overlay}).
 */
record Batch(int rows, int seq, int[] lengths, int offset) {
    /**
     * The shapes of {@code r} against {@code c}: its token ids checked against the vocabulary
     * (and the learned positions, where the model has them), or its residual input against the
     * hidden size and the layers.
     */
    static Batch of(ForwardRequest r, ModelConfig c, boolean learnedPositions) {
        int[] lengths;
        int seq;
        if (r.ids() != null) {
            if (r.ids().isEmpty()) {
                throw NeurotomeException.badInput("a forward pass needs at least one sequence");
            }
            lengths = new int[r.ids().size()];
            for (int b = 0; b < lengths.length; b++) {
                int[] row = r.ids().get(b);
                if (row.length == 0) {
                    throw NeurotomeException.badInput("sequence " + b + " is empty; every row needs at least one token");
                }
                for (int i = 0; i < row.length; i++) {
                    if (row[i] < 0 || row[i] >= c.vocabSize()) {
                        throw NeurotomeException.badInput("token id " + row[i] + " (sequence " + b + ", position " + i
                                + ") is outside the vocabulary of size " + c.vocabSize() + " (ids 0.."
                                + (c.vocabSize() - 1) + ")");
                    }
                }
                lengths[b] = row.length;
            }
            seq = Arrays.stream(lengths).max().orElseThrow();
        } else {
            Shape s = r.residual().getShape();
            lengths = r.lengths().clone();
            if (s.dimension() != 3 || s.get(0) != lengths.length || s.get(2) != c.hiddenSize()) {
                throw new IllegalArgumentException("residual must be [" + lengths.length + ", S, " + c.hiddenSize()
                        + "], got " + s);
            }
            seq = (int) s.get(1);
            for (int len : lengths) {
                if (len < 1 || len > seq) {
                    throw new IllegalArgumentException("row length " + len + " outside 1.." + seq);
                }
            }
            if (r.startLayer() < 0 || r.startLayer() >= c.numLayers()) {
                throw new IllegalArgumentException("start layer " + r.startLayer() + " outside 0.."
                        + (c.numLayers() - 1));
            }
        }
        int offset = r.cache() == null ? 0 : r.cache().length();
        if (r.cache() != null && Arrays.stream(lengths).anyMatch(len -> len != lengths[0])) {
            throw new IllegalArgumentException("rows continuing a key/value cache must have equal lengths, got "
                    + Arrays.toString(lengths));
        }
        if (learnedPositions && offset + seq > c.maxPositions()) {
            throw NeurotomeException.badInput("a sequence of " + (offset + seq) + " tokens is longer than the model's "
                    + c.maxPositions() + " learned positions");
        }
        return new Batch(lengths.length, seq, lengths, offset);
    }

    /**
     * [S, offset + S]: 0 where query i (at position offset + i) may read key j (j ≤ offset + i,
     * and offset + i − window < j unless window is 0), −∞ elsewhere.
     */
    float[] causalMask(int window) {
        int keys = offset + seq;
        float[] m = new float[seq * keys];
        for (int i = 0; i < seq; i++) {
            int q = offset + i;
            for (int j = 0; j < keys; j++) {
                boolean visible = j <= q && (window == 0 || q - j < window);
                m[i * keys + j] = visible ? 0f : Float.NEGATIVE_INFINITY;
            }
        }
        return m;
    }
}
