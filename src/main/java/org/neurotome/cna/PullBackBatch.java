package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The pull-backs {@link LogProbBounds} needs ({@code docs/bounds.md}), queued and computed
 * together by {@link VocabularyProjection#pullBack}: a product of a few rows reads the whole
 * unembedding as a product of many does, so the rows of every layer of a pass cost one read
 * instead of one per layer. A queued row or token is given a slot; its vector [D] is computed
 * when it is first asked for, with everything queued by then, or when the queued rows reach
 * {@value #MAX_BYTES} bytes. A token queued again shares its slot.
 */
final class PullBackBatch {
    /** Queued rows of vocabulary weights are held up to this many bytes. */
    static final long MAX_BYTES = 64L << 20;

    private final VocabularyProjection projection;
    private final int maxRows;
    private final List<float[]> vectors = new ArrayList<>();
    private final List<Integer> rowSlots = new ArrayList<>();
    private final List<float[]> rows = new ArrayList<>();
    private final List<Integer> tokenSlots = new ArrayList<>();
    private final List<Long> tokens = new ArrayList<>();
    private final Map<Integer, Integer> tokenSlot = new HashMap<>();

    PullBackBatch(VocabularyProjection projection) {
        this.projection = projection;
        this.maxRows = (int) Math.max(1, MAX_BYTES / (4L * projection.vocabSize()));
    }

    /** Queues the row {@code y} [V]; its slot. */
    int add(float[] y) {
        int slot = vectors.size();
        vectors.add(null);
        rowSlots.add(slot);
        rows.add(y);
        if (rows.size() >= maxRows) {
            compute();
        }
        return slot;
    }

    /** Queues token {@code t}'s vector, once; its slot. */
    int addToken(int t) {
        return tokenSlot.computeIfAbsent(t, k -> {
            int slot = vectors.size();
            vectors.add(null);
            tokenSlots.add(slot);
            tokens.add((long) k);
            return slot;
        });
    }

    /** The vector [D] of {@code slot}. */
    float[] vector(int slot) {
        if (vectors.get(slot) == null) {
            compute();
        }
        return vectors.get(slot);
    }

    private void compute() {
        int vocab = projection.vocabSize();
        int n = rows.size();
        float[] out;
        try (NDScope scope = new NDScope()) {
            NDManager m = projection.weights().manager();
            NDArray y = null;
            if (n > 0) {
                float[] flat = new float[n * vocab];
                for (int i = 0; i < n; i++) {
                    System.arraycopy(rows.get(i), 0, flat, i * vocab, vocab);
                }
                y = m.create(flat, new Shape(n, vocab));
            }
            out = projection.pullBack(y, tokens.stream().mapToLong(Long::longValue).toArray()).toFloatArray();
        }
        int d = out.length / (n + tokens.size());
        for (int i = 0; i < n; i++) {
            vectors.set(rowSlots.get(i), java.util.Arrays.copyOfRange(out, i * d, (i + 1) * d));
        }
        for (int i = 0; i < tokens.size(); i++) {
            vectors.set(tokenSlots.get(i), java.util.Arrays.copyOfRange(out, (n + i) * d, (n + i + 1) * d));
        }
        rowSlots.clear();
        rows.clear();
        tokenSlots.clear();
        tokens.clear();
    }
}
