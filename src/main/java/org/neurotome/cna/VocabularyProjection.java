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

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The before-softmax projection {@code bs(z)} of docs/method.md A2 (the notebooks'
 * {@code get_bsvalues}), with the final norm frozen per row at a {@link FrozenNorm}:
 * <pre>
 *   bs(z) = cap(u(z)),   u(z) = W_U · (C(z) / s ⊙ g) + b_U
 * </pre>
 * where {@code s = sqrt(final_var + eps)}, {@code g} is the final norm's gain (its weight w,
 * or {@code 1 + w} for Gemma 2), {@code C} subtracts the mean over the hidden axis for
 * LayerNorm models and is the identity for RMSNorm, the final-norm bias is dropped (as the
 * reference GPT-2 code does), {@code lm_head.bias} (GPT-J) is kept, and {@code cap} is the
 * final logit soft-cap {@code c·tanh(x / c)} (Gemma 2; else the identity). {@code u} is affine
 * in z, so {@code u(base + v) = u(base) + direction(v) / s} with
 * {@code direction(v) = W_U·(C(v) ⊙ g)}, which has no bias term. A neuron's value vector is
 * the column of the down projection as the residual receives it: times the post-FFN norm's
 * {@code 1 + w} for Gemma 2 (its per-position scale is the caller's, like {@code s}). The
 * directions of every FFN neuron's value vector are cached per
 * layer (a [I, V] matrix, independent of the prompt) while they fit in the cache budget, which
 * is taken from what the weights' memory budget has left; layers beyond it are projected
 * again on each call, in chunks. Value vectors are passed in by the caller, who holds the
 * layer's {@link Weights#ffnValues} lease (streamed weights widen them only then).
 */
public final class VocabularyProjection implements AutoCloseable {
    /** Default cache budget for value directions: 1 GiB. */
    public static final long DEFAULT_CACHE_BYTES = 1L << 30;
    private static final int TOP_TOKEN_BATCH = 256;
    /** Rows of a partial value-direction product are projected in blocks of this many. */
    static final int ROW_BLOCK = 16;
    /** Squarings of the Gram matrix in {@link #gramBound}. */
    private static final int SQUARINGS = 5;
    /** Relative slack on bounds computed in float32. */
    private static final double ROUNDING = 1e-3;
    /** Projections of at most this many rows are remembered, the last {@value #MEMO_SIZE} of them. */
    private static final int MEMO_ROWS = 16;
    private static final int MEMO_SIZE = 4;

    private final Weights w;
    private final NDManager cache;
    private final long budget;
    private final NDArray[] valueDirections;
    private final boolean[] uncached;
    private final List<MemoryBudget.Reservation> reserved = new ArrayList<>();
    /** The last projections of at most {@value #MEMO_ROWS} rows, newest first ({@link #uncapped}). */
    private final ArrayDeque<Projected> memo = new ArrayDeque<>();
    private final NDArray one;
    private final NDArray gain;
    private final NDArray[] valueGains;
    private final NDArray softcap;
    private long used;
    private double tokenNorm = Double.NaN;
    private double gram = Double.NaN;

    /**
     * A projection over {@code weights}, caching value directions up to {@code cacheBytes} or
     * half of what their memory budget has left, whichever is less.
     */
    public VocabularyProjection(Weights weights, long cacheBytes) {
        if (cacheBytes < 0) {
            throw new IllegalArgumentException("cache budget must be ≥ 0, got " + cacheBytes);
        }
        this.w = weights;
        this.budget = weights.memory().projectionCacheBytes(cacheBytes);
        this.cache = weights.manager().newSubManager();
        int layers = weights.config().numLayers();
        this.valueDirections = new NDArray[layers];
        this.uncached = new boolean[layers];
        this.one = weights.architecture().normPlusOne() ? cached(cache.full(new Shape(), 1f)) : null;
        this.gain = one == null ? weights.finalNormWeight() : cached(weights.finalNormWeight().add(one));
        this.valueGains = new NDArray[layers];
        double cap = weights.config().features().finalSoftcap();
        this.softcap = cap > 0 ? cached(cache.full(new Shape(), (float) cap)) : null;
    }

    /** {@code a}, kept in the cache manager beyond any scope. */
    private NDArray cached(NDArray a) {
        NDScope.unregister(a);
        a.attach(cache);
        return a;
    }

    public Weights weights() {
        return w;
    }

    public int vocabSize() {
        return w.config().vocabSize();
    }

    /** {@code bs(z)} of rows {@code z} [N, D], row n frozen at {@code scales[n]}: logits [N, V]. */
    public NDArray logits(NDArray z, float[] scales) {
        return cap(uncapped(z, scales));
    }

    /**
     * {@code u(z)}: {@link #logits} before the final soft-cap [N, V]. The last few projections
     * of a few rows are remembered by the bits of their rows and scales, and the same call again
     * is answered from there: one prompt's residual reaches the unembedding several times per
     * layer (a layer's base, the same base plus the attention's output, the next layer's base),
     * and a product of a few rows reads the whole unembedding. The answer is the product the
     * call would compute (the same inputs in the same batch), so every score stays the same.
     */
    public NDArray uncapped(NDArray z, float[] scales) {
        long n = z.getShape().get(0);
        if (scales.length != n) {
            throw new IllegalArgumentException(scales.length + " scales for " + n + " rows");
        }
        if (n > MEMO_ROWS) {
            return project(z, scales);
        }
        float[] rows = z.toFloatArray();
        synchronized (memo) {
            for (Projected p : memo) {
                if (Arrays.equals(p.rows(), rows) && Arrays.equals(p.scales(), scales)) {
                    return z.getManager().create(p.logits(), new Shape(n, vocabSize()));
                }
            }
        }
        NDArray out = project(z, scales);
        synchronized (memo) {
            memo.addFirst(new Projected(rows, scales.clone(), out.toFloatArray()));
            if (memo.size() > MEMO_SIZE) {
                memo.removeLast();
            }
        }
        return out;
    }

    private NDArray project(NDArray z, float[] scales) {
        NDArray s = z.getManager().create(scales, new Shape(z.getShape().get(0), 1));
        NDArray normed = centre(z).div(s).mul(gain);                                      // [N, D]
        return w.unembed(normed, true);                                                    // [N, V]
    }

    /** A remembered projection: the rows and scales it was asked for and its logits. */
    private record Projected(float[] rows, float[] scales, float[] logits) {
    }

    /** The final logit soft-cap {@code c·tanh(x / c)}, or {@code x} when the model has none. */
    public NDArray cap(NDArray x) {
        return softcap == null ? x : x.div(softcap).tanh().mul(softcap);
    }

    /** {@code W_U·(C(v) ⊙ g)} of rows {@code v} [N, D]: the bias-free projection at unit scale [N, V]. */
    public NDArray directions(NDArray v) {
        return w.unembed(centre(v).mul(gain), false);
    }

    /**
     * Rows {@code rows} (all when null) of layer {@code layer}'s FFN value vectors as the
     * residual receives them, up to a per-position scale [N, D]: the down projection's columns
     * {@code values} [I, D] (the caller's {@link Weights#ffnValues} lease), times the post-FFN
     * norm's gain where there is one. Call inside an {@code NDScope}: the result may be a
     * temporary.
     */
    public NDArray values(int layer, NDArray values, NDIndex rows) {
        NDArray v = rows == null ? values : values.get(rows);
        NDArray g = valueGain(layer);
        return g == null ? v : v.mul(g);
    }

    /** The post-FFN norm's gain of {@code layer} [D] (its weight, or 1 + it), or null without post-norms. */
    private synchronized NDArray valueGain(int layer) {
        if (valueGains[layer] == null) {
            try (Weights.Lease<NDArray> post = w.postFfnNorm(layer)) {
                if (post != null) {
                    valueGains[layer] = cached(one == null ? post.get().duplicate() : post.get().add(one));
                }
            }
        }
        return valueGains[layer];
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
        return directions(values(layer, values, rows));
    }

    /**
     * The rows of each listed layer's value directions, {@code neurons} of {@code layer}
     * [n, V], from its value vectors {@code values} [I, D]: taken from the cache when the layer
     * is there, else projected for these rows only (never filling the cache). Rows are projected
     * in whole blocks of {@value #ROW_BLOCK} (zero rows fill the last), because libtorch's CPU
     * matrix product takes another path for a few rows than for many, and the rows of a whole
     * layer's product must come out the same. Call inside an {@code NDScope}.
     */
    public NDArray valueDirections(int layer, NDArray values, int[] neurons) {
        NDManager m = values.getManager();
        NDArray idx = m.create(Arrays.stream(neurons).asLongStream().toArray());
        if (valueDirections[layer] != null) {
            return valueDirections[layer].get(idx);
        }
        // centred (LayerNorm) as a whole, as the whole layer's product centres them: a mean over
        // the rows of a gathered copy sums in another order than over the layer's own layout
        NDArray rows = centre(values(layer, values, null)).get(idx);                           // [n, D]
        int padded = (neurons.length + ROW_BLOCK - 1) / ROW_BLOCK * ROW_BLOCK;
        if (padded > neurons.length) {
            rows = rows.concat(m.zeros(new Shape(padded - neurons.length, rows.getShape().get(1))), 0);
        }
        NDArray d = w.unembed(rows.mul(gain), false);
        return padded > neurons.length ? d.get(new NDIndex("0:" + neurons.length)) : d;
    }

    /**
     * The row vectors w with {@code y · direction(v) = w · v} for every v, for the rows of
     * vocabulary weights {@code y} [N, V] (null: none): {@code w = C((y · W_U) ⊙ g)}, then the
     * token vectors {@code C(W_U[t] ⊙ g)} of the tokens {@code ids} (each a one-hot row's w),
     * [N + n, D], from one read of the unembedding (C is symmetric and the gain a diagonal).
     * In the caller's scope.
     */
    public NDArray pullBack(NDArray y, long[] ids) {
        NDArray[] sum = new NDArray[1];
        NDArray tokens = ids.length == 0 ? null : w.manager().zeros(new Shape(ids.length, w.config().hiddenSize()));
        w.forEachUnembedBlock((from, rows) -> {
            long to = from + rows.getShape().get(0);
            if (y != null) {
                NDArray part = y.get(new NDIndex(":, " + from + ":" + to)).matMul(rows);      // [N, D]
                sum[0] = sum[0] == null ? part : sum[0].add(part);
            }
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] >= from && ids[i] < to) {
                    tokens.set(new NDIndex(i), rows.get(ids[i] - from));
                }
            }
        });
        NDArray all = sum[0] == null ? tokens : tokens == null ? sum[0] : sum[0].concat(tokens, 0);
        return centre(all.mul(gain));
    }

    /** {@code max_v ‖C(W_U[v] ⊙ g)‖}: with Cauchy–Schwarz, {@code |direction(v)[t]| ≤ this · ‖v‖} for every token. */
    public synchronized double tokenNormBound() {
        if (Double.isNaN(tokenNorm)) {
            double[] max = {0};
            w.forEachUnembedBlock((from, rows) -> {
                try (NDScope scope = new NDScope()) {
                    NDArray n = centre(rows.mul(gain)).square().sum(new int[] {1}).sqrt();
                    max[0] = Math.max(max[0], n.max().getFloat());
                }
            });
            tokenNorm = max[0] * (1 + ROUNDING);
        }
        return tokenNorm;
    }

    /**
     * An upper bound on the largest eigenvalue of {@code G = Σ_v w_v w_vᵀ} (w_v the token
     * vectors above), so that {@code ‖direction(v)‖² ≤ this · ‖v‖²}: G is accumulated over the
     * vocabulary, then {@code λ_max ≤ ‖G^k‖_F^{1/k}} with k = 2^{@value #SQUARINGS} by repeated
     * squaring, which overestimates by at most a factor {@code D^{1/(2k)}}. Computed once.
     */
    public synchronized double gramBound() {
        if (Double.isNaN(gram)) {
            // every [D, D] temporary is closed as soon as it is used: a scope over the whole
            // computation held one per unembedding block and squaring (2 GiB on a 7B)
            NDArray[] g = new NDArray[1];
            w.forEachUnembedBlock((from, rows) -> {
                try (NDScope block = new NDScope()) {
                    NDArray t = centre(rows.mul(gain));
                    NDArray part = t.transpose().matMul(t);                                 // [D, D]
                    if (g[0] == null) {
                        NDScope.unregister(part);
                        part.attach(cache);                                                // a streamed block's memory is closed with it
                        g[0] = part;
                    } else {
                        g[0].addi(part);
                    }
                }
            });
            NDArray b = g[0];
            try {
                double logNorm = 0;
                for (int j = 0; j <= SQUARINGS; j++) {
                    double n = b.norm().getFloat();
                    if (!(n > 0)) {
                        gram = 0;
                        return gram;
                    }
                    logNorm = 2 * logNorm + Math.log(n);                                  // ‖G^(2^j)‖_F = e^logNorm
                    if (j < SQUARINGS) {
                        try (NDScope step = new NDScope()) {
                            NDArray unit = b.div(b.getManager().full(new Shape(), (float) n));
                            NDArray next = unit.matMul(unit);
                            NDScope.unregister(next);
                            b.close();
                            b = next;
                        }
                    }
                }
                gram = Math.exp(logNorm / (1 << SQUARINGS)) * (1 + ROUNDING);
            } finally {
                b.close();
            }
        }
        return gram;
    }

    /** The final logit soft-cap c, or 0 when the model has none. */
    public double softcap() {
        return softcap == null ? 0 : w.config().features().finalSoftcap();
    }

    /**
     * The {@code k} tokens ranked highest by {@code direction(v)} for each row of {@code v}
     * [N, D], best first: the frozen norm and no bias term (docs/method.md A4), so the ranking does
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
     * The {@code k} top tokens of each neuron's value vector {@code m·value} (docs/method.md A4),
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
                            int neuron = neurons.get(i).neuron();
                            NDArray value = values(layer.getKey(), values.get(), new NDIndex(neuron + ":" + (neuron + 1)))
                                    .reshape(-1);                                              // [D]
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
        long bytes = 4L * w.config().ffnWidth(layer) * vocabSize();
        if (used + bytes > budget) {
            uncached[layer] = true;
            return null;
        }
        NDArray d;
        try (NDScope scope = new NDScope()) {
            d = directions(values(layer, values, null));                                    // [I, V]
            NDScope.unregister(d);
        }
        d.attach(cache);
        valueDirections[layer] = d;
        used += bytes;
        reserved.add(w.memory().reserve(bytes));
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
