package org.neurotome.checkpoint;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** BF16/F16 conversions: exact where representable, round-to-nearest-even otherwise. */
class FloatCodecTest {

    @Test
    void bf16WideningIsTheUpperHalfOfFloat32() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = FloatCodec.bf16ToFloat((short) bits);
            assertEquals(bits << 16, Float.floatToRawIntBits(f));
            if (!Float.isNaN(f)) {
                assertEquals((short) bits, FloatCodec.floatToBf16(f), "round trip of bf16 0x" + Integer.toHexString(bits));
            } else {
                assertTrue(Float.isNaN(FloatCodec.bf16ToFloat(FloatCodec.floatToBf16(f))));
            }
        }
    }

    @Test
    void bf16NarrowingRoundsToNearestEven() {
        // 1 + 2^-8 is exactly halfway between bf16 1.0 (0x3f80) and 1 + 2^-7 (0x3f81): ties go to even 0x3f80
        assertEquals((short) 0x3f80, FloatCodec.floatToBf16(Float.intBitsToFloat(0x3f808000)));
        // 1 + 3·2^-8 is halfway between 0x3f81 and 0x3f82: ties go to even 0x3f82
        assertEquals((short) 0x3f82, FloatCodec.floatToBf16(Float.intBitsToFloat(0x3f818000)));
        // just above halfway rounds up, just below rounds down
        assertEquals((short) 0x3f81, FloatCodec.floatToBf16(Float.intBitsToFloat(0x3f808001)));
        assertEquals((short) 0x3f80, FloatCodec.floatToBf16(Float.intBitsToFloat(0x3f807fff)));
        // signed zeros, infinities, max, subnormals
        assertEquals((short) 0x0000, FloatCodec.floatToBf16(0.0f));
        assertEquals((short) 0x8000, FloatCodec.floatToBf16(-0.0f));
        assertEquals((short) 0x7f80, FloatCodec.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xff80, FloatCodec.floatToBf16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x7f80, FloatCodec.floatToBf16(Float.MAX_VALUE), "float max rounds up to inf in bf16");
        assertEquals((short) 0x7f7f, FloatCodec.floatToBf16(Float.intBitsToFloat(0x7f7f0000)));
        assertEquals((short) 0x0001, FloatCodec.floatToBf16(Float.intBitsToFloat(0x00010000)), "smallest bf16 subnormal");
        assertEquals((short) 0x0000, FloatCodec.floatToBf16(Float.MIN_VALUE), "float32's smallest subnormal rounds to 0");
        assertTrue(Float.isNaN(FloatCodec.bf16ToFloat(FloatCodec.floatToBf16(Float.NaN))));
        assertTrue(Float.isNaN(FloatCodec.bf16ToFloat(FloatCodec.floatToBf16(Float.intBitsToFloat(0x7f800001)))),
                "a NaN whose payload sits in the low bits stays NaN");
    }

    @Test
    void f16RoundTripsEveryValueAndRoundsToNearestEven() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = FloatCodec.f16ToFloat((short) bits);
            if (!Float.isNaN(f)) {
                assertEquals((short) bits, FloatCodec.floatToF16(f));
            }
        }
        assertEquals((short) 0x3c00, FloatCodec.floatToF16(1.0f + 0x1p-11f), "tie to even (down)");
        assertEquals((short) 0x3c02, FloatCodec.floatToF16(1.0f + 3 * 0x1p-11f), "tie to even (up)");
        assertEquals((short) 0x7bff, FloatCodec.floatToF16(65504f));
        assertEquals((short) 0x7c00, FloatCodec.floatToF16(65520f), "halfway past max rounds to inf");
        assertEquals((short) 0x0001, FloatCodec.floatToF16(0x1p-24f), "smallest f16 subnormal");
        assertEquals((short) 0x8000, FloatCodec.floatToF16(-0.0f));
    }

    @Test
    void encodeDecodeRoundTripsThroughBytes() {
        float[] values = {0f, -0f, 1.5f, -2.25f, 65504f, 0x1p-24f, Float.POSITIVE_INFINITY};
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F64}) {
            byte[] bytes = FloatCodec.encode(values, t);
            assertEquals(values.length * t.size(), bytes.length);
            float[] back = FloatCodec.decode(MemorySegment.ofArray(bytes), t, values.length);
            for (int i = 0; i < values.length; i++) {
                if (t == DType.BF16 && i == 4) {
                    assertEquals(65536f, back[i], "65504 is not a bf16 value; nearest even is 65536");
                } else if (t == DType.BF16 && i == 5) {
                    assertEquals(values[i], back[i], "2^-24 is a normal bf16");
                } else {
                    assertEquals(Float.floatToRawIntBits(values[i]), Float.floatToRawIntBits(back[i]), t + " value " + values[i]);
                }
            }
        }
    }
}
