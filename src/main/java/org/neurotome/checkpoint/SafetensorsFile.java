package org.neurotome.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped {@code .safetensors} file, read lazily per tensor with {@code long}
 * offsets. The header is validated as the reference implementation does
 * (huggingface/safetensors {@code SafeTensors::deserialize} / {@code Metadata::validate}):
 * header length within the file and at most 100 MB, a JSON object, known dtypes, shape
 * product × dtype size equal to the offset span (overflow-checked), offsets contiguous from
 * 0 without gaps or overlaps, and the last offset equal to the data size.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The reference implementation's limit on the header size. */
    public static final long MAX_HEADER = 100L * 1000 * 1000;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final long dataStart;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, long dataStart,
                            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.dataStart = dataStart;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps and validates {@code path}; a malformed file is a BAD_CHECKPOINT error naming it. */
    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw bad(path, "file is " + size + " bytes, shorter than the 8-byte header length");
            }
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = all.get(U64, 0);
            if (n < 2 || n > MAX_HEADER) {
                throw bad(path, "header length " + Long.toUnsignedString(n) + " is not within 2.."
                        + MAX_HEADER + " bytes");
            }
            if (n > size - 8) {
                throw bad(path, "header length " + n + " runs past the end of the file (" + size + " bytes)");
            }
            byte[] headerBytes = all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            String headerText;
            try {
                headerText = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(headerBytes)).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                throw bad(path, "header is not UTF-8 text");
            }
            MemorySegment data = all.asSlice(8 + n);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(path, headerText, data.byteSize(), metadata);
            return new SafetensorsFile(path, arena, data, 8 + n, tensors, metadata);
        } catch (IOException e) {
            arena.close();
            throw NeurotomeException.badCheckpoint(path + ": cannot read: " + NeurotomeException.reason(e));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, TensorInfo> parseHeader(Path path, String text, long dataSize,
                                                       Map<String, String> metadata) {
        JsonNode root;
        try (com.fasterxml.jackson.core.JsonParser p = Json.MAPPER.createParser(text)) {
            root = p.readValueAsTree();
            // as the reference reader (serde_json::from_str), only JSON whitespace may follow the object:
            // writers pad the header with spaces to align the data
            long end = p.currentLocation().getCharOffset();
            for (long i = end; i < text.length(); i++) {
                char c = text.charAt((int) i);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                    throw bad(path, "header has " + (text.length() - i) + " characters of trailing content after its JSON"
                            + " object (from character " + i + "); allowed: padding with spaces");
                }
            }
        } catch (JsonProcessingException e) {
            throw bad(path, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw bad(path, "header is not valid JSON: " + NeurotomeException.reason(e));
        }
        if (root == null || !root.isObject()) {
            throw bad(path, "header is not a JSON object");
        }
        List<TensorInfo> list = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw bad(path, "__metadata__ must be an object of strings");
                }
                v.fields().forEachRemaining(m -> {
                    if (!m.getValue().isTextual()) {
                        throw bad(path, "__metadata__." + m.getKey() + " must be a string, got " + m.getValue());
                    }
                    metadata.put(m.getKey(), m.getValue().asText());
                });
                continue;
            }
            list.add(parseEntry(path, name, v));
        }
        list.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        for (TensorInfo t : list) {
            if (t.begin() != expected) {
                String what = t.begin() < expected ? "overlaps the previous tensor" : "leaves a gap after the previous tensor";
                throw bad(path, "tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end() + "] "
                        + what + " (expected it to start at " + expected + ")");
            }
            expected = t.end();
        }
        if (expected != dataSize) {
            throw bad(path, "tensor data ends at byte " + expected + " but the data section is " + dataSize
                    + " bytes (file truncated or has trailing bytes)");
        }
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (TensorInfo t : list) {
            byName.put(t.name(), t);
        }
        return Collections.unmodifiableMap(byName);
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode v) {
        if (!v.isObject()) {
            throw bad(path, "tensor '" + name + "' entry must be an object with dtype, shape, data_offsets");
        }
        JsonNode dt = v.get("dtype");
        JsonNode sh = v.get("shape");
        JsonNode off = v.get("data_offsets");
        if (dt == null || sh == null || off == null || v.size() != 3) {
            throw bad(path, "tensor '" + name + "' must have exactly dtype, shape and data_offsets, got " + v);
        }
        DType dtype = dt.isTextual() ? DType.parse(dt.asText()) : null;
        if (dtype == null) {
            throw bad(path, "tensor '" + name + "' has unknown dtype " + dt + "; allowed: " + DType.allowed());
        }
        if (!sh.isArray()) {
            throw bad(path, "tensor '" + name + "' shape must be an array of non-negative integers, got " + sh);
        }
        long[] shape = new long[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw bad(path, "tensor '" + name + "' shape must be an array of non-negative integers, got " + sh);
            }
            shape[i] = d.asLong();
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw bad(path, "tensor '" + name + "' shape " + sh + " overflows");
            }
        }
        if (!off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()
                || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw bad(path, "tensor '" + name + "' data_offsets must be [begin, end], got " + off);
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw bad(path, "tensor '" + name + "' data_offsets " + off + " are invalid (need 0 <= begin <= end)");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(numel, dtype.size());
        } catch (ArithmeticException e) {
            throw bad(path, "tensor '" + name + "' size overflows");
        }
        if (bytes != end - begin) {
            throw bad(path, "tensor '" + name + "' shape " + sh + " × " + dtype + " (" + dtype.size()
                    + " bytes) = " + bytes + " bytes, but data_offsets span " + (end - begin) + " bytes");
        }
        return new TensorInfo(name, dtype, shape, path, begin, end);
    }

    private static NeurotomeException bad(Path path, String message) {
        return NeurotomeException.badCheckpoint(path + ": " + message);
    }

    public Path path() {
        return path;
    }

    /** Tensors in data order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** The tensor's bytes, valid until this file is closed. */
    public MemorySegment bytes(TensorInfo info) {
        return data.asSlice(info.begin(), info.byteLength());
    }

    /** Copies the tensor's stored bytes into {@code sink} file-to-file, without mapping them. */
    public void copyTo(TensorInfo info, ShardSink sink) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            sink.transferFrom(ch, dataStart + info.begin(), info.byteLength());
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
