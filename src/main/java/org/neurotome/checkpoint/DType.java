package org.neurotome.checkpoint;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The element types of the safetensors format (huggingface/safetensors, {@code Dtype} in
 * safetensors/src/tensor.rs) with their sizes. Floating types are widened to float32 for
 * computation; the others are passed through as raw bytes.
 */
public enum DType {
    BOOL(1, false), U8(1, false), I8(1, false), F8_E5M2(1, false), F8_E4M3(1, false),
    I16(2, false), U16(2, false), F16(2, true), BF16(2, true),
    I32(4, false), U32(4, false), F32(4, true),
    F64(8, true), I64(8, false), U64(8, false);

    private final int size;
    private final boolean widenable;

    DType(int size, boolean widenable) {
        this.size = size;
        this.widenable = widenable;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** Whether neurotome converts this type to and from float32 (F32, F16, BF16, F64). */
    public boolean isFloat() {
        return widenable;
    }

    /** The dtype named {@code name} in a safetensors header, or null when unknown. */
    public static DType parse(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }

    public static String allowed() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
