package org.neurotome.surgery;

import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.FloatCodec;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.checkpoint.ShardSink;
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
 * writer reaches it. Tensors that are only scaled (zeroed heads and neurons, scaled neurons)
 * or converted stream through in blocks of rows, so memory holds a few MiB of any checkpoint;
 * a compacting edit or a merged adapter holds its one tensor at a time.
 */
public final class WeightRewriter {
    /** Elements widened at once when a tensor streams through in blocks of rows. */
    private static final int BLOCK_ELEMENTS = 1 << 22;

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
            if (mine.stream().allMatch(e -> e.kind() == TensorEdit.Kind.SCALE)) {
                out.add(new OutputTensor(t.name(), target, shape, sink -> scaledInBlocks(source, t, mine, target, sink)));
                continue;
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

    /** Writes tensor {@code t} with its scaling edits applied, as {@code target}, in blocks of whole rows. */
    private static void scaledInBlocks(Checkpoint source, TensorInfo t, List<TensorEdit> edits, DType target,
                                       ShardSink sink) throws java.io.IOException {
        long[] shape = t.shape();
        long cols = shape.length == 2 ? shape[1] : 1;
        long rows = t.numel() / Math.max(1, cols);
        long block = Math.max(1, BLOCK_ELEMENTS / Math.max(1, cols));
        for (long r0 = 0; r0 < rows; r0 += block) {
            long r1 = Math.min(rows, r0 + block);
            float[] v = source.floats(t.name(), r0 * cols, Math.toIntExact((r1 - r0) * cols));
            for (TensorEdit e : edits) {
                e.scaleRows(v, shape, r0, r1);
            }
            sink.write(FloatCodec.encode(v, target));
        }
    }
}
