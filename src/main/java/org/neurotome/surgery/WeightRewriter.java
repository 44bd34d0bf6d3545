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
import java.util.stream.IntStream;

/**
 * Lowers a list of {@link TensorEdit}s onto a checkpoint's tensors, lazily: an untouched
 * tensor is copied byte for byte; a touched one is widened to float32, edited and stored
 * back in its own dtype (or {@code dtype} when a conversion is asked for) only when the
 * writer reaches it. Tensors that are only scaled (zeroed heads and neurons, scaled neurons)
 * or converted stream through in blocks of rows, so memory holds a few MiB of any checkpoint;
 * a compacting edit or a merged adapter holds its one tensor at a time, except that keeping
 * whole rows (axis 0: a pruned router's rows, a fused expert tensor's experts) in the tensor's
 * own dtype copies the kept rows' stored bytes in blocks. A dropped tensor is
 * left out, a renamed one written under its new name (pruned experts); the output names must
 * be distinct.
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
        Map<String, String> written = new java.util.HashMap<>();
        for (TensorInfo t : source.tensors().values()) {
            List<TensorEdit> all = byTensor.getOrDefault(t.name(), List.of());
            if (all.stream().anyMatch(e -> e.kind() == TensorEdit.Kind.DROP)) {
                continue;
            }
            String name = outputName(t.name(), all);
            String before = written.put(name, t.name());
            if (before != null) {
                throw new IllegalStateException("tensors '" + before + "' and '" + t.name() + "' would both be written as '"
                        + name + "'");
            }
            List<TensorEdit> mine = all.stream().filter(TensorEdit::changesValues).toList();
            DType target = dtype != null && t.dtype().isFloat() ? dtype : t.dtype();
            if (mine.isEmpty() && target == t.dtype()) {
                out.add(new OutputTensor(name, t.dtype(), t.shape(), sink -> source.copyTo(t.name(), sink)));
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
            if (target == t.dtype() && mine.stream().allMatch(e -> e.kind() == TensorEdit.Kind.KEEP && e.axis() == 0)) {
                int[] rows = IntStream.range(0, Math.toIntExact(t.shape()[0])).toArray();
                for (TensorEdit e : mine) {
                    int[] previous = rows;
                    rows = IntStream.of(e.indices()).map(i -> previous[i]).toArray();
                }
                int[] kept = rows;
                out.add(new OutputTensor(name, target, shape, sink -> rowsCopied(source, t, kept, sink)));
                continue;
            }
            if (mine.stream().allMatch(e -> e.kind() == TensorEdit.Kind.SCALE)) {
                out.add(new OutputTensor(name, target, shape, sink -> scaledInBlocks(source, t, mine, target, sink)));
                continue;
            }
            out.add(OutputTensor.ofLazyFloats(name, target, shape, () -> {
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

    /** The name {@code tensor} is written under: its last rename's, or its own. */
    static String outputName(String tensor, List<TensorEdit> edits) {
        String name = tensor;
        for (TensorEdit e : edits) {
            if (e.kind() == TensorEdit.Kind.RENAME) {
                name = e.into();
            }
        }
        return name;
    }

    /**
     * Each written tensor's input name by its output name (the renamed ones under their new
     * names, the dropped ones absent), in the input's order.
     */
    public static Map<String, String> sources(Checkpoint source, List<TensorEdit> edits) {
        Map<String, List<TensorEdit>> byTensor = new LinkedHashMap<>();
        edits.forEach(e -> byTensor.computeIfAbsent(e.tensor(), k -> new ArrayList<>()).add(e));
        Map<String, String> out = new LinkedHashMap<>();
        for (String t : source.tensors().keySet()) {
            List<TensorEdit> mine = byTensor.getOrDefault(t, List.of());
            if (mine.stream().noneMatch(e -> e.kind() == TensorEdit.Kind.DROP)) {
                out.put(outputName(t, mine), t);
            }
        }
        return out;
    }

    /** Copies the stored bytes of rows {@code rows} (indices of axis 0) of tensor {@code t}, a block at a time. */
    private static void rowsCopied(Checkpoint source, TensorInfo t, int[] rows, ShardSink sink) throws java.io.IOException {
        for (int r : rows) {
            if (r < 0 || r >= t.shape()[0]) {
                throw new IllegalArgumentException(t.name() + ": index " + r + " outside axis 0 of shape "
                        + java.util.Arrays.toString(t.shape()));
            }
        }
        java.lang.foreign.MemorySegment bytes = source.bytes(t.name());
        long row = (long) TensorEdit.cols(t.shape()) * t.dtype().size();
        long block = (long) BLOCK_ELEMENTS * 4;
        for (int r : rows) {
            for (long off = 0; off < row; off += block) {
                long n = Math.min(block, row - off);
                sink.write(bytes.asSlice(r * row + off, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
        }
    }

    /** Writes tensor {@code t} with its scaling edits applied, as {@code target}, in blocks of whole rows. */
    private static void scaledInBlocks(Checkpoint source, TensorInfo t, List<TensorEdit> edits, DType target,
                                       ShardSink sink) throws java.io.IOException {
        long[] shape = t.shape();
        if (shape.length > 2) {
            // a fused expert tensor [E, A, B] scales whole experts: as [E·A, B], expert e is rows e·A … (e+1)·A − 1
            long inner = shape[0] == 0 ? 0 : t.numel() / shape[0] / shape[shape.length - 1];
            long[] flat = {shape[0] * inner, shape[shape.length - 1]};
            List<TensorEdit> rowEdits = new ArrayList<>();
            for (TensorEdit e : edits) {
                rowEdits.add(TensorEdit.scale(e.tensor(), 0, IntStream.of(e.indices())
                        .flatMap(i -> IntStream.range(Math.toIntExact(i * inner), Math.toIntExact((i + 1) * inner)))
                        .toArray(), e.factor()));
            }
            edits = rowEdits;
            shape = flat;
        }
        long cols = TensorEdit.cols(shape);
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
