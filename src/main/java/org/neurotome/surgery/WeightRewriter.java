package org.neurotome.surgery;

import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.NeurotomeException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Lowers a list of {@link TensorEdit}s onto a checkpoint's tensors, lazily: an untouched
 * tensor is copied byte for byte; a touched one is widened to float32, edited and stored
 * back in its own dtype (or {@code dtype} when a conversion is asked for) only when the
 * writer reaches it, so memory holds one tensor at a time.
 */
public final class WeightRewriter {
    private WeightRewriter() {
    }

    /**
     * The output tensors of {@code source} with {@code edits} applied in order.
     *
     * @param dtype the output dtype for floating tensors, or null to keep each tensor's own
     */
    public static List<OutputTensor> rewrite(Checkpoint source, List<TensorEdit> edits, DType dtype) {
        Map<String, List<TensorEdit>> byTensor = new LinkedHashMap<>();
        for (TensorEdit e : edits) {
            if (!source.has(e.tensor())) {
                throw NeurotomeException.badCheckpoint(source.dir() + ": an edit targets tensor '" + e.tensor()
                        + "', which the checkpoint does not have");
            }
            byTensor.computeIfAbsent(e.tensor(), k -> new ArrayList<>()).add(e);
        }
        List<OutputTensor> out = new ArrayList<>();
        for (TensorInfo t : source.tensors().values()) {
            List<TensorEdit> mine = byTensor.getOrDefault(t.name(), List.of());
            DType target = dtype != null && t.dtype().isFloat() ? dtype : t.dtype();
            if (mine.isEmpty() && target == t.dtype()) {
                out.add(OutputTensor.copyOf(source, t.name()));
                continue;
            }
            if (!t.dtype().isFloat()) {
                throw NeurotomeException.badCheckpoint(t.file() + ": tensor '" + t.name() + "' has dtype " + t.dtype()
                        + ", which edits cannot change");
            }
            long[] shape = t.shape();
            for (TensorEdit e : mine) {
                shape = e.apply(shape);
            }
            out.add(OutputTensor.ofLazyFloats(t.name(), target, shape, () -> {
                float[] v = source.floats(t.name());
                long[] s = t.shape();
                for (TensorEdit e : mine) {
                    v = e.apply(v, s);
                    s = e.apply(s);
                }
                return v;
            }));
        }
        return out;
    }
}
