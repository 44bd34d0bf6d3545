package org.neurotome.arch;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Where attention head h lives in the weights, for every family: the one place that knows
 * it. The q/k/v projections' output features are laid out {@code (n h) m} (head-major,
 * {@code head_dim} each, TransformerLens {@code weight_conversions/llama.py}); with a fused
 * qkv matrix in row blocks the q, k and v parts follow one another (q heads, then kv heads of
 * k, then of v, as GPT-2's {@code c_attn} and Phi-3's {@code qkv_proj} split them); fused per
 * head, head h's q, k and v follow one another from {@code 3·hd·h} (GPT-NeoX's
 * {@code query_key_value}, viewed as [H, 3·hd]). Query head h reads key/value head
 * {@code h / (H / KV)} (transformers' {@code repeat_kv}). Head h owns input features
 * {@code h·hd … (h+1)·hd − 1} of the output projection: columns of an {@code nn.Linear}
 * weight, rows of GPT-2's Conv1D {@code c_proj.weight}.
 */
public final class HeadLayout {
    private final Architecture arch;
    private final ModelConfig config;

    public HeadLayout(Architecture arch, ModelConfig config) {
        this.arch = arch;
        this.config = config;
    }

    public int numHeads() {
        return config.numHeads();
    }

    public int numKvHeads() {
        return config.numKvHeads();
    }

    public int headDim() {
        return config.headDim();
    }

    /** The key/value head that query head {@code head} reads. */
    public int kvHead(int head) {
        checkHead(head);
        return head / config.groupSize();
    }

    /** The query heads that read key/value head {@code kvHead}. */
    public int[] queryHeads(int kvHead) {
        checkKvHead(kvHead);
        int g = config.groupSize();
        return IntStream.range(kvHead * g, (kvHead + 1) * g).toArray();
    }

    /** First output feature of query head {@code head} in the q (or fused qkv) projection. */
    public int queryOffset(int head) {
        checkHead(head);
        return arch.fusedQkvPerHead() ? 3 * head * config.headDim() : head * config.headDim();
    }

    /** First output feature of key head {@code kvHead} in a fused qkv projection. */
    public int fusedKeyOffset(int kvHead) {
        checkKvHead(kvHead);
        return arch.fusedQkvPerHead() ? (3 * kvHead + 1) * config.headDim()
                : (config.numHeads() + kvHead) * config.headDim();
    }

    /** First output feature of value head {@code kvHead} in a fused qkv projection. */
    public int fusedValueOffset(int kvHead) {
        checkKvHead(kvHead);
        return arch.fusedQkvPerHead() ? (3 * kvHead + 2) * config.headDim()
                : (config.numHeads() + config.numKvHeads() + kvHead) * config.headDim();
    }

    /** The slices of layer {@code layer}'s output projection that head {@code head} writes through. */
    public List<TensorSlice> outputSlices(int layer, int head) {
        checkHead(head);
        return List.of(new TensorSlice(arch.tensorName(Role.O, layer), inAxis(), (long) head * headDim(), headDim()));
    }

    /** The rows (Linear) or columns (Conv1D) of weight and bias that compute query head {@code head}. */
    public List<TensorSlice> querySlices(int layer, int head) {
        return arch.fusedQkv()
                ? projection(layer, Role.QKV, Role.QKV_BIAS, queryOffset(head))
                : projection(layer, Role.Q, Role.Q_BIAS, queryOffset(head));
    }

    /** The slices that compute key head {@code kvHead}; shared by all of {@link #queryHeads(int)}. */
    public List<TensorSlice> keySlices(int layer, int kvHead) {
        return arch.fusedQkv()
                ? projection(layer, Role.QKV, Role.QKV_BIAS, fusedKeyOffset(kvHead))
                : projection(layer, Role.K, Role.K_BIAS, kvHead * headDim());
    }

    /** The slices that compute value head {@code kvHead}; shared by all of {@link #queryHeads(int)}. */
    public List<TensorSlice> valueSlices(int layer, int kvHead) {
        return arch.fusedQkv()
                ? projection(layer, Role.QKV, Role.QKV_BIAS, fusedValueOffset(kvHead))
                : projection(layer, Role.V, Role.V_BIAS, kvHead * headDim());
    }

    private List<TensorSlice> projection(int layer, Role weight, Role bias, long start) {
        List<TensorSlice> s = new ArrayList<>();
        s.add(new TensorSlice(arch.tensorName(weight, layer), outAxis(), start, headDim()));
        if (arch.has(bias, config)) {
            s.add(new TensorSlice(arch.tensorName(bias, layer), 0, start, headDim()));
        }
        return s;
    }

    /** The axis of output features in a stored layer matrix: 0 for Linear [out, in], 1 for Conv1D [in, out]. */
    public int outAxis() {
        return arch.weightLayout() == WeightLayout.LINEAR ? 0 : 1;
    }

    /** The axis of input features in a stored layer matrix. */
    public int inAxis() {
        return 1 - outAxis();
    }

    private void checkHead(int head) {
        if (head < 0 || head >= config.numHeads()) {
            throw new IllegalArgumentException("head " + head + " out of range 0.." + (config.numHeads() - 1));
        }
    }

    private void checkKvHead(int kvHead) {
        if (kvHead < 0 || kvHead >= config.numKvHeads()) {
            throw new IllegalArgumentException("kv head " + kvHead + " out of range 0.." + (config.numKvHeads() - 1));
        }
    }
}
