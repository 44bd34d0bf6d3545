package org.neurotome.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.neurotome.NeurotomeException;

import java.util.Collections;
import java.util.Map;

/**
 * The outputs of one {@link Transformer#forward} call: logits and the requested taps, all
 * owned by one manager that {@link #close()} releases.
 */
public final class ForwardResult implements AutoCloseable {
    private final NDManager manager;
    private final NDArray logits;
    private final Map<String, NDArray> taps;
    private final int[] lengths;

    ForwardResult(NDManager manager, NDArray logits, Map<String, NDArray> taps, int[] lengths) {
        this.manager = manager;
        this.logits = logits;
        this.taps = Collections.unmodifiableMap(taps);
        this.lengths = lengths;
    }

    /** Logits at each row's last position [B, V], or at every position [B, S, V] when asked. */
    public NDArray logits() {
        return logits;
    }

    /** Row {@code row}'s logits at its last position, copied to Java. */
    public float[] lastLogits(int row) {
        if (logits.getShape().dimension() == 2) {
            return logits.get(row).toFloatArray();
        }
        return logits.get(row).get(lengths[row] - 1).toFloatArray();
    }

    /** The recorded tap {@code name}; asking for one that was not requested is an error. */
    public NDArray tap(String name) {
        NDArray a = taps.get(name);
        if (a == null) {
            throw NeurotomeException.badInput("tap '" + name + "' was not recorded; recorded: " + taps.keySet());
        }
        return a;
    }

    public Map<String, NDArray> taps() {
        return taps;
    }

    /** Each row's number of real (unpadded) positions. */
    public int[] lengths() {
        return lengths.clone();
    }

    public int batchSize() {
        return lengths.length;
    }

    /** The manager owning every array of this result. */
    public NDManager manager() {
        return manager;
    }

    @Override
    public void close() {
        manager.close();
    }
}
