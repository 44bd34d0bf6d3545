package org.neurotome.model;

import org.neurotome.checkpoint.Checkpoint;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Function;

/**
 * Where a model's weights come from: tensors by their checkpoint name, read as float32 into
 * memory the caller owns, a range of elements at a time (so one embedding row or one block of
 * the unembedding can be read without the rest). A checkpoint is read from its mapping and
 * the mapped pages are released again, so a model streamed layer by layer never holds the
 * file in its resident set.
 */
public interface TensorSource {

    /**
     * Widens elements {@code [offset, offset + count)} of tensor {@code name} (row-major, as
     * stored) into {@code dst} as native-order float32.
     */
    void read(String name, long offset, long count, MemorySegment dst);

    /** The tensors of an open checkpoint, decoded from their mapped bytes (valid while it is open). */
    static TensorSource of(Checkpoint checkpoint) {
        return checkpoint::floats;
    }

    /** Tensors held as Java arrays (fresh initialisations, values read elsewhere), by name. */
    static TensorSource of(Function<String, float[]> tensors) {
        return (name, offset, count, dst) -> {
            float[] v = tensors.apply(name);
            if (v == null) {
                throw new IllegalArgumentException("no values for tensor '" + name + "'");
            }
            check(name, offset, count, v.length);
            MemorySegment.copy(v, Math.toIntExact(offset), dst, ValueLayout.JAVA_FLOAT_UNALIGNED, 0,
                    Math.toIntExact(count));
        };
    }

    private static void check(String name, long offset, long count, long numel) {
        if (offset < 0 || count < 0 || offset + count > numel) {
            throw new IllegalArgumentException("elements [" + offset + ", " + (offset + count) + ") of tensor '" + name
                    + "' are outside its " + numel + " elements");
        }
    }
}
