package org.neurotome.model;

import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.TensorInfo;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * Where a model's non-finite logits come from: the first tensor of a checkpoint (in shard
 * and data order) holding a NaN or an infinity, found by reading the stored bits — an IEEE
 * 754 value is not finite when its exponent bits are all ones — without decoding whole
 * tensors. Run only once non-finite logits have been seen, so a healthy model never pays
 * for the scan.
 */
final class NonFiniteWeights {
    private static final ValueLayout.OfInt F32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong F64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private NonFiniteWeights() {
    }

    /** A phrase naming the first non-finite value of the checkpoint in {@code dir}, or null when all are finite. */
    static String first(Path dir) {
        try (Checkpoint ck = Checkpoint.open(dir)) {
            for (TensorInfo t : ck.tensors().values()) {
                long at = firstIndex(ck.bytes(t.name()), t.dtype(), t.numel());
                if (at >= 0) {
                    return "tensor '" + t.name() + "' (" + t.file().getFileName() + ") holds a NaN or infinite value at"
                            + " element " + at;
                }
            }
        }
        return null;
    }

    /** The index of the first non-finite element of {@code bytes}, or -1 (integer dtypes: -1). */
    static long firstIndex(MemorySegment bytes, DType dtype, long numel) {
        if (!dtype.isFloat()) {
            return -1;
        }
        for (long i = 0; i < numel; i++) {
            boolean bad = switch (dtype) {
                case F32 -> (bytes.get(F32, 4 * i) & 0x7f80_0000) == 0x7f80_0000;
                case F16 -> (bytes.get(F16, 2 * i) & 0x7c00) == 0x7c00;
                case BF16 -> (bytes.get(F16, 2 * i) & 0x7f80) == 0x7f80;
                case F64 -> (bytes.get(F64, 8 * i) & 0x7ff0_0000_0000_0000L) == 0x7ff0_0000_0000_0000L;
                default -> false;
            };
            if (bad) {
                return i;
            }
        }
        return -1;
    }
}
