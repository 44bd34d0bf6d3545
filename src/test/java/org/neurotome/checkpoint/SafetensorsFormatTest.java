package org.neurotome.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One test per malformed-file case of the safetensors header validation. */
class SafetensorsFormatTest {
    @TempDir
    Path dir;

    /** Writes an 8-byte length, the header text, and {@code dataBytes} zero bytes. */
    private Path file(String header, long declaredLength, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(h);
        Path p = dir.resolve("model.safetensors");
        Files.write(p, b.array());
        return p;
    }

    private Path file(String header, int dataBytes) throws IOException {
        return file(header, header.getBytes(StandardCharsets.UTF_8).length, dataBytes);
    }

    private static String rejected(Path p) {
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> SafetensorsFile.open(p).close());
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
        assertTrue(e.getMessage().startsWith(p.toString()), "message names the file: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void acceptsAWellFormedFileAndKeepsMetadata() throws IOException {
        Path p = file("{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}", 11);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals("pt", f.metadata().get("format"));
            assertEquals(2, f.tensors().size());
            assertEquals(3, f.bytes(f.tensors().get("b")).byteSize());
        }
    }

    @Test
    void truncatedHeaderLength() throws IOException {
        Path p = dir.resolve("model.safetensors");
        Files.write(p, new byte[] {1, 2, 3});
        assertTrue(rejected(p).contains("shorter than the 8-byte header length"));
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        assertTrue(rejected(file("{}", 1000, 0)).contains("runs past the end of the file"));
    }

    @Test
    void headerLengthOverLimit() throws IOException {
        assertTrue(rejected(file("{}", 200_000_000L, 0)).contains("is not within"));
    }

    @Test
    void badJson() throws IOException {
        assertTrue(rejected(file("{\"a\": [", 0)).contains("not valid JSON"));
    }

    @Test
    void contentAfterTheHeaderObjectIsRefusedButSpacePaddingIsNot() throws IOException {
        String entry = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        for (String padding : new String[] {"   ", "\n \t\r "}) {
            try (SafetensorsFile f = SafetensorsFile.open(file(entry + padding, 2))) {
                assertEquals(1, f.tensors().size(), "JSON whitespace after the object is padding");
            }
        }
        for (String trailing : new String[] {"x", " {}", "\u0000\u0000", " // note"}) {
            assertTrue(rejected(file(entry + trailing, 2)).contains("trailing content after its JSON object"),
                    "'" + trailing + "' after the header");
        }
    }

    @Test
    void aHeaderThatIsNotUtf8IsRefused() throws IOException {
        byte[] h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}".getBytes(StandardCharsets.UTF_8);
        h[3] = (byte) 0xff;
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 1).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = dir.resolve("model.safetensors");
        Files.write(p, b.array());
        assertTrue(rejected(p).contains("header is not UTF-8 text"));
    }

    @Test
    void headerNotAnObject() throws IOException {
        assertTrue(rejected(file("[1, 2]", 0)).contains("not a JSON object"));
    }

    @Test
    void unknownDtype() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        assertTrue(m.contains("tensor 'a' has unknown dtype \"F12\"") && m.contains("allowed: BOOL"), m);
    }

    @Test
    void sizeShapeMismatch() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20));
        assertTrue(m.contains("tensor 'a' shape [2,3] × F32 (4 bytes) = 24 bytes, but data_offsets span 20 bytes"), m);
    }

    @Test
    void shapeOverflow() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4));
        assertTrue(m.contains("overflows"), m);
    }

    @Test
    void overlappingOffsets() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
        assertTrue(m.contains("tensor 'b'") && m.contains("overlaps the previous tensor"), m);
    }

    @Test
    void gapInOffsets() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12));
        assertTrue(m.contains("tensor 'b'") && m.contains("leaves a gap"), m);
    }

    @Test
    void truncatedData() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10));
        assertTrue(m.contains("tensor data ends at byte 16 but the data section is 10 bytes"), m);
    }

    @Test
    void trailingBytes() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9));
        assertTrue(m.contains("data section is 9 bytes"), m);
    }

    @Test
    void badOffsetsShape() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4));
        assertTrue(m.contains("data_offsets must be [begin, end]"), m);
    }

    @Test
    void extraKeyInEntry() throws IOException {
        String m = rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4));
        assertTrue(m.contains("exactly dtype, shape and data_offsets"), m);
    }

    @Test
    void metadataMustBeStrings() throws IOException {
        String m = rejected(file("{\"__metadata__\":{\"n\":3}}", 0));
        assertTrue(m.contains("__metadata__.n must be a string"), m);
    }
}
