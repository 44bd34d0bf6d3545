package org.neurotome.checkpoint;

import java.io.IOException;

/**
 * A tensor to be written: its name, stored dtype, shape and a lazy body that produces its
 * bytes only when the writer reaches it, so a checkpoint streams through memory one tensor
 * at a time.
 */
public record OutputTensor(String name, DType dtype, long[] shape, Body body) {

    /** Produces exactly {@code numel × dtype.size()} bytes. */
    @FunctionalInterface
    public interface Body {
        void writeTo(ShardSink out) throws IOException;
    }

    public long byteLength() {
        long n = dtype.size();
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The tensor copied byte for byte from an open checkpoint. */
    public static OutputTensor copyOf(Checkpoint source, String name) {
        TensorInfo t = source.info(name);
        return new OutputTensor(name, t.dtype(), t.shape(), out -> source.copyTo(name, out));
    }

    /** Float values stored as {@code dtype} (rounded to nearest even for F16/BF16). */
    public static OutputTensor ofFloats(String name, DType dtype, long[] shape, float[] values) {
        return new OutputTensor(name, dtype, shape, out -> out.write(FloatCodec.encode(values, dtype)));
    }

    /** Float values computed when the writer reaches this tensor, stored as {@code dtype}. */
    public static OutputTensor ofLazyFloats(String name, DType dtype, long[] shape,
                                            java.util.function.Supplier<float[]> values) {
        return new OutputTensor(name, dtype, shape, out -> out.write(FloatCodec.encode(values.get(), dtype)));
    }
}
