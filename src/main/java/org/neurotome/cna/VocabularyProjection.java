package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.NormKind;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.Weights;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The before-softmax projection {@code bs(z)} of METHOD.md A2 (the notebooks'
 * {@code get_bsvalues}), with the final norm frozen per row at a {@link FrozenNorm}:
 * <pre>
 *   bs(z) = W_U · (C(z) / s ⊙ g) + b_U
 * </pre>
 * where {@code s = sqrt(final_var + eps)}, {@code g} is the final norm's weight, {@code C}
 * subtracts the mean over the hidden axis for LayerNorm models and is the identity for
 * RMSNorm, the final-norm bias is dropped (as the reference GPT-2 code does) and
 * {@code lm_head.bias} (GPT-J) is kept. The map is affine in z, so
 * {@code bs(base + v) = bs(base) + direction(v) / s} with {@code direction(v) = W_U·(C(v) ⊙ g)},
 * which has no bias term. The directions of every FFN neuron's value vector are cached per
 * layer (a [I, V] matrix, independent of the prompt) while they fit in the cache budget, which
 * is taken from what the weights' memory budget has left; layers beyond it are projected
 * again on each call, in chunks. Value vectors are passed in by the caller, who holds the
 * layer's {@link Weights#ffnValues} lease (streamed weights widen them only then).
 */
public final class VocabularyProjection implements AutoCloseable {
    /** Default cache budget for value directions: 1 GiB. */
    public static final long DEFAULT_CACHE_BYTES = 1L << 30;
    private static final int TOP_TOKEN_BATCH = 256;

    private final Weights w;
    private final NDManager cache;
    private final long budget;
    private final NDArray[] valueDirections;
    private final boolean[] uncached;
    private final List<MemoryBudget.Reservation> reserved = new ArrayList<>();
    private long used;

    /**
     * A projection over {@code weights}, caching value directions up to {@code cacheBytes} or
     * half of what their memory budget has left, whichever is less.
     */
    public VocabularyProjection(Weights weights, long cacheBytes) {
        if (cacheBytes < 0) {
            throw new IllegalArgumentException("cache budget must be ≥ 0, got " + cacheBytes);
        }
        this.w = weights;
        this.budget = Math.min(cacheBytes, weights.budget().available() / 2);
        this.cache = weights.manager().newSubManager();
        this.valueDirections = new NDArray[weights.config().numLayers()];
        this.uncached = new boolean[weights.config().numLayers()];
    }

    public Weights weights() {
        return w;
    }

    public int vocabSize() {
        return w.config().vocabSize();
    }

    /** {@code bs(z)} of rows {@code z} [N, D], row n frozen at {@code scales[n]}: logits [N, V]. */
    public NDArray logits(NDArray z, float[] scales) {
        long n = z.getShape().get(0);
        if (scales.length != n) {
            throw new IllegalArgumentException(scales.length + " scales for " + n + " rows");
        }
        NDArray s = z.getManager().create(scales, new Shape(n, 1));
        NDArray normed = centre(z).div(s).mul(w.finalNormWeight());                       // [N, D]
        return w.unembed(normed, true);                                                    // [N, V]
    }

    /** {@code W_U·(C(v) ⊙ g)} of rows {@code v} [N, D]: the bias-free projection at unit scale [N, V]. */
    public NDArray directions(NDArray v) {
        return w.unembed(centre(v).mul(w.finalNormWeight()), false);
    }

    /**
     * Directions of the value vectors of FFN neurons {@code from … to−1} of {@code layer}
     * [to−from, V], from its value vectors {@code values} [I, D]. Call inside an
     * {@code NDScope}: the returned array is a temporary of that scope.
     */
    public NDArray valueDirections(int layer, NDArray values, int from, int to) {
        NDArray all = cached(layer, values);
        NDIndex rows = new NDIndex(from + ":" + to);
        if (all != null) {
            return all.get(rows);
        }
        return directions(values.get(rows));
    }

    /**
     * The {@code k} tokens ranked highest by {@code direction(v)} for each row of {@code v}
     * [N, D], best first: the frozen norm and no bias term (METHOD.md A4), so the ranking does
     * not depend on any run's scale.
     */
    public int[][] topTokens(NDArray v, int k) {
        int n = (int) v.getShape().get(0);
        int kk = Math.min(k, vocabSize());
        long[] ids;
        try (NDScope scope = new NDScope()) {
            ids = directions(v).topK(kk, 1, true, true).get(1).toLongArray();
        }
        int[][] out = new int[n][kk];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < kk; j++) {
                out[r][j] = Math.toIntExact(ids[r * kk + j]);
            }
        }
        return out;
    }

    /**
     * The {@code k} top tokens of each neuron's value vector {@code m·value} (METHOD.md A4),
     * where only the sign of {@code coefs[i]} matters (0 counts as positive).
     */
    public int[][] valueTopTokens(List<Neuron> neurons, double[] coefs, int k) {
        int[][] out = new int[neurons.size()][];
        Map<Integer, List<Integer>> byLayer = new TreeMap<>();
        for (int i = 0; i < neurons.size(); i++) {
            byLayer.computeIfAbsent(neurons.get(i).layer(), l -> new ArrayList<>()).add(i);
        }
        for (Map.Entry<Integer, List<Integer>> layer : byLayer.entrySet()) {
            List<Integer> at = layer.getValue();
            try (Weights.Lease<NDArray> values = w.ffnValues(layer.getKey())) {
                for (int from = 0; from < at.size(); from += TOP_TOKEN_BATCH) {
                    int to = Math.min(at.size(), from + TOP_TOKEN_BATCH);
                    try (NDScope scope = new NDScope()) {
                        NDList rows = new NDList();
                        for (int j = from; j < to; j++) {
                            int i = at.get(j);
                            NDArray value = values.get().get(neurons.get(i).neuron());        // [D]
                            rows.add(coefs[i] < 0 ? value.neg() : value);
                        }
                        int[][] top = topTokens(NDArrays.stack(rows), k);
                        for (int j = from; j < to; j++) {
                            out[at.get(j)] = top[j - from];
                        }
                    }
                }
            }
        }
        return out;
    }

    /** Layer {@code layer}'s value directions when they are (or now fit) in the cache, else null. */
    private NDArray cached(int layer, NDArray values) {
        if (valueDirections[layer] != null || uncached[layer]) {
            return valueDirections[layer];
        }
        long bytes = 4L * w.config().ffnSize() * vocabSize();
        if (used + bytes > budget) {
            uncached[layer] = true;
            return null;
        }
        NDArray d;
        try (NDScope scope = new NDScope()) {
            d = directions(values);                                                         // [I, V]
            NDScope.unregister(d);
        }
        d.attach(cache);
        valueDirections[layer] = d;
        used += bytes;
        reserved.add(w.budget().reserve(bytes));
        return d;
    }

    private NDArray centre(NDArray z) {
        return w.normKind() == NormKind.LAYERNORM ? z.sub(z.mean(new int[] {-1}, true)) : z;
    }

    @Override
    public void close() {
        cache.close();
        reserved.forEach(MemoryBudget.Reservation::close);
    }
}
