package org.neurotome.checkpoint;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A tensor to be written: its name, stored dtype, shape and a lazy body that produces its
 * bytes only when the writer reaches it, so a checkpoint streams through memory one tensor
 * at a time.
 */
public record OutputTensor(String name, DType dtype, long[] shape, Body body) {

    /** Produces exactly {@code numel × dtype.size()} bytes. */
    @FunctionalInterface
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
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
        return new OutputTensor(name, t.dtype(), t.shape(), out -> copy(source.bytes(name), out));
    }

    /** The tensor copied byte for byte from an open checkpoint under another name. */
    public static OutputTensor copyOf(Checkpoint source, String name, String newName) {
        TensorInfo t = source.info(name);
        return new OutputTensor(newName, t.dtype(), t.shape(), out -> copy(source.bytes(name), out));
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

    static void copy(MemorySegment src, OutputStream out) throws IOException {
        byte[] buf = new byte[1 << 20];
        long size = src.byteSize();
        for (long off = 0; off < size; off += buf.length) {
            int n = (int) Math.min(buf.length, size - off);
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, off, buf, 0, n);
            out.write(buf, 0, n);
        }
    }
}
