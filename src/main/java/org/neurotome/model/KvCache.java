package org.neurotome.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;

/**
 * The keys and values every layer has computed so far, for decoding one token at a time
 * without running the whole sequence again (transformers' {@code DynamicCache}, one entry per
 * layer). Keys are stored after rotary embedding and per key/value head, so grouped-query
 * models keep only their KV heads. A forward given a cache reads its tokens at the positions
 * after the cached ones and appends their keys and values.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int length;

    /** An empty cache for {@code model}. */
    public KvCache(Transformer model) {
        this.manager = model.weights().manager().newSubManager();
        this.keys = new NDArray[model.config().numLayers()];
        this.values = new NDArray[model.config().numLayers()];
    }

    /** Positions cached so far (the next token's position). */
    public int length() {
        return length;
    }

    /**
     * Layer {@code l}'s keys and values with {@code k}, {@code v} [B, S, KV, hd] appended:
     * the whole sequence so far, [B, length + S, KV, hd] each, kept for the next call.
     */
    NDArray[] append(int l, NDArray k, NDArray v) {
        NDArray allK = keys[l] == null ? k.duplicate() : keys[l].concat(k, 1);
        NDArray allV = values[l] == null ? v.duplicate() : values[l].concat(v, 1);
        for (NDArray a : new NDArray[] {allK, allV}) {
            NDScope.unregister(a);
            a.attach(manager);
        }
        if (keys[l] != null) {
            keys[l].close();
            values[l].close();
        }
        keys[l] = allK;
        values[l] = allV;
        return new NDArray[] {allK, allV};
    }

    /** Moves the cached length on by {@code n} positions, once every layer has appended them. */
    void advance(int n) {
        length += n;
    }

    @Override
    public void close() {
        manager.close();
    }
}
