package org.neurotome.checkpoint;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Conversions between the stored floating dtypes (little-endian F32, F16, BF16, F64) and
 * float32. BF16 is done here in Java because any BF16 NDArray aborts the JVM in DJL 0.36:
 * widening is {@code bits << 16}; narrowing rounds to nearest, ties to even, and keeps NaN
 * a quiet NaN. F16 uses the JDK's IEEE binary16 conversions (round-to-nearest-even).
 */
public final class FloatCodec {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** float32 in native order, as libtorch reads a buffer it aliases. */
    private static final ValueLayout.OfFloat NATIVE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfInt NATIVE_I32 = ValueLayout.JAVA_INT_UNALIGNED;

    /** Every F16 bit pattern widened once: decoding is then a table lookup per element. */
    private static final float[] F16_TABLE = new float[1 << 16];

    static {
        for (int i = 0; i < F16_TABLE.length; i++) {
            F16_TABLE[i] = Float.float16ToFloat((short) i);
        }
    }

    private FloatCodec() {
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040); // keep sign and payload top, force quiet
        }
        int lsb = (bits >>> 16) & 1;
        int rounded = bits + 0x7fff + lsb;
        return (short) (rounded >>> 16);
    }

    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** Decodes {@code n} elements of {@code dtype} starting at {@code src} into a new float array. */
    public static float[] decode(MemorySegment src, DType dtype, int n) {
        float[] out = new float[n];
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, F32, 0, out, 0, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = F16_TABLE[src.getAtIndex(I16, i) & 0xffff];
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((src.getAtIndex(I16, i) & 0xffff) << 16);
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) src.getAtIndex(F64, i);
                }
            }
            default -> throw new IllegalArgumentException("not a floating dtype: " + dtype);
        }
        return out;
    }

    /**
     * Decodes {@code n} elements of {@code dtype} starting at {@code src} into {@code dst} as
     * native-order float32, without a Java array in between (a 7B model's layers are widened
     * this way, one at a time, into memory libtorch reads directly).
     */
    public static void decode(MemorySegment src, DType dtype, long n, MemorySegment dst) {
        switch (dtype) {
            case F32 -> {
                if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
                    MemorySegment.copy(src, 0, dst, 0, 4 * n);
                } else {
                    for (long i = 0; i < n; i++) {
                        dst.setAtIndex(NATIVE_F32, i, src.getAtIndex(F32, i));
                    }
                }
            }
            case F16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(NATIVE_F32, i, F16_TABLE[src.getAtIndex(I16, i) & 0xffff]);
                }
            }
            case BF16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(NATIVE_I32, i, (src.getAtIndex(I16, i) & 0xffff) << 16);
                }
            }
            case F64 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(NATIVE_F32, i, (float) src.getAtIndex(F64, i));
                }
            }
            default -> throw new IllegalArgumentException("not a floating dtype: " + dtype);
        }
    }

    /** Encodes floats as {@code dtype} little-endian bytes. */
    public static byte[] encode(float[] values, DType dtype) {
        byte[] out = new byte[Math.multiplyExact(values.length, dtype.size())];
        MemorySegment dst = MemorySegment.ofArray(out);
        switch (dtype) {
            case F32 -> MemorySegment.copy(values, 0, dst, F32, 0, values.length);
            case F16 -> {
                for (int i = 0; i < values.length; i++) {
                    dst.setAtIndex(I16, i, Float.floatToFloat16(values[i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < values.length; i++) {
                    dst.setAtIndex(I16, i, floatToBf16(values[i]));
                }
            }
            case F64 -> {
                for (int i = 0; i < values.length; i++) {
                    dst.setAtIndex(F64, i, values[i]);
                }
            }
            default -> throw new IllegalArgumentException("not a floating dtype: " + dtype);
        }
        return out;
    }
}
