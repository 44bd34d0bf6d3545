package org.neurotome.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.archive.ArchiveCache;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A Hugging Face checkpoint directory, opened read-only: {@code config.json}, optional
 * tokenizer files, and either {@code model.safetensors} or shards listed by
 * {@code model.safetensors.index.json} (the layout {@code transformers}'
 * {@code PreTrainedModel.save_pretrained} writes). Tensors are mapped lazily; nothing is
 * read until asked for.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String CONFIG = "config.json";
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final ObjectNode config;
    private final List<SafetensorsFile> shards;
    private final Map<String, TensorInfo> tensors;
    private final Map<Path, SafetensorsFile> byFile;

    private Checkpoint(Path dir, ObjectNode config, List<SafetensorsFile> shards, Map<String, TensorInfo> tensors) {
        this.dir = dir;
        this.config = config;
        this.shards = shards;
        this.tensors = tensors;
        this.byFile = new LinkedHashMap<>();
        for (SafetensorsFile f : shards) {
            byFile.put(f.path(), f);
        }
    }

    /**
     * Opens and validates the checkpoint in {@code dir}, or in a {@code .tar}, {@code .tar.gz}
     * or {@code .tar.zst} archive of one (unpacked once into the archive cache, and read there:
     * {@link #dir()} is then the unpacked directory); every problem is a BAD_CHECKPOINT error.
     */
    public static Checkpoint open(Path dir) {
        dir = ArchiveCache.directoryOf(dir);
        if (!Files.isDirectory(dir)) {
            throw NeurotomeException.badCheckpoint(dir + ": not a directory (a checkpoint is a directory with "
                    + CONFIG + " and " + SINGLE + " or " + INDEX + ")");
        }
        return open(dir, readJsonObject(dir.resolve(CONFIG)));
    }

    /** Opens the tensors of {@code dir} without requiring a config.json (used to verify written output). */
    static Checkpoint openTensorsOnly(Path dir) {
        return open(dir, Json.MAPPER.createObjectNode());
    }

    private static Checkpoint open(Path dir, ObjectNode config) {
        Path index = dir.resolve(INDEX);
        List<SafetensorsFile> shards = new ArrayList<>();
        try {
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            if (Files.exists(index)) {
                Map<String, String> weightMap = readWeightMap(index);
                if (Files.exists(dir.resolve(SINGLE)) && !weightMap.containsValue(SINGLE)) {
                    throw NeurotomeException.badCheckpoint(dir + ": has both " + SINGLE + " and " + INDEX
                            + ", which names other shards; the two may hold different weights, so remove the one"
                            + " that is not the model");
                }
                Map<String, SafetensorsFile> files = new LinkedHashMap<>();
                for (String file : new java.util.TreeSet<>(weightMap.values())) {
                    Path p = dir.resolve(file);
                    if (!Files.isRegularFile(p)) {
                        throw NeurotomeException.badCheckpoint(index + ": names shard '" + file
                                + "', which does not exist in " + dir);
                    }
                    SafetensorsFile f = SafetensorsFile.open(p);
                    shards.add(f);
                    files.put(file, f);
                }
                for (Map.Entry<String, String> e : weightMap.entrySet()) {
                    TensorInfo t = files.get(e.getValue()).tensors().get(e.getKey());
                    if (t == null) {
                        throw NeurotomeException.badCheckpoint(index + ": tensor '" + e.getKey() + "' is mapped to '"
                                + e.getValue() + "', which does not contain it");
                    }
                }
                for (Map.Entry<String, SafetensorsFile> f : files.entrySet()) {
                    for (TensorInfo t : f.getValue().tensors().values()) {
                        if (!f.getKey().equals(weightMap.get(t.name()))) {
                            throw NeurotomeException.badCheckpoint(index + ": shard '" + f.getKey() + "' holds tensor '"
                                    + t.name() + "', which the index maps to "
                                    + (weightMap.containsKey(t.name()) ? "'" + weightMap.get(t.name()) + "'" : "no shard"));
                        }
                        tensors.put(t.name(), t);
                    }
                }
            } else {
                Path single = dir.resolve(SINGLE);
                if (!Files.isRegularFile(single)) {
                    throw NeurotomeException.badCheckpoint(dir + ": has neither " + SINGLE + " nor " + INDEX);
                }
                SafetensorsFile f = SafetensorsFile.open(single);
                shards.add(f);
                tensors.putAll(f.tensors());
            }
            return new Checkpoint(dir, config, Collections.unmodifiableList(shards), Collections.unmodifiableMap(tensors));
        } catch (RuntimeException e) {
            shards.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    static ObjectNode readJsonObject(Path file) {
        if (!Files.isRegularFile(file)) {
            throw NeurotomeException.badCheckpoint(file + ": missing");
        }
        try {
            JsonNode node = Json.MAPPER.readTree(file.toFile());
            if (node == null || !node.isObject()) {
                throw NeurotomeException.badCheckpoint(file + ": must be a JSON object");
            }
            return (ObjectNode) node;
        } catch (JsonProcessingException e) {
            throw NeurotomeException.badCheckpoint(Json.invalid(file, e));
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(file + ": cannot read: " + NeurotomeException.reason(e));
        }
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode wm = readJsonObject(index).get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw NeurotomeException.badCheckpoint(index + ": needs a \"weight_map\" object (tensor name -> shard file)");
        }
        Map<String, String> map = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String file = e.getValue().asText("");
            if (!e.getValue().isTextual() || file.isEmpty() || file.contains("/") || file.contains("\\")) {
                throw NeurotomeException.badCheckpoint(index + ": weight_map['" + e.getKey()
                        + "'] must be a shard file name in the same directory, got " + e.getValue());
            }
            map.put(e.getKey(), file);
        }
        return map;
    }

    public Path dir() {
        return dir;
    }

    /** The parsed {@code config.json}; callers must not modify it. */
    public ObjectNode config() {
        return config;
    }

    /** Every tensor, in shard order then data order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw NeurotomeException.badCheckpoint(dir + ": has no tensor '" + name + "'");
        }
        return t;
    }

    public List<Path> shardFiles() {
        return shards.stream().map(SafetensorsFile::path).toList();
    }

    /** {@code __metadata__} of every shard merged (first shard wins on conflicts). */
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        for (SafetensorsFile f : shards) {
            f.metadata().forEach(m::putIfAbsent);
        }
        return m;
    }

    /** The tensor's stored bytes, valid while this checkpoint is open. */
    public MemorySegment bytes(String name) {
        TensorInfo t = info(name);
        return byFile.get(t.file()).bytes(t);
    }

    /** Copies the tensor's stored bytes into {@code sink} without mapping them into memory. */
    public void copyTo(String name, ShardSink sink) throws IOException {
        TensorInfo t = info(name);
        byFile.get(t.file()).copyTo(t, sink);
    }

    /** The tensor widened to float32 (F32, F16, BF16, F64 only). */
    public float[] floats(String name) {
        TensorInfo t = info(name);
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw NeurotomeException.badCheckpoint(t.file() + ": tensor '" + name + "' has " + t.numel()
                    + " elements, more than one float array holds");
        }
        return floats(name, 0, (int) t.numel());
    }

    /**
     * Elements {@code [offset, offset + count)} of the tensor (row-major, as stored) widened to
     * float32; the mapped pages they came from are released again, so reading a large
     * checkpoint piece by piece does not keep it in the resident set.
     */
    public float[] floats(String name, long offset, int count) {
        float[][] out = new float[1][];
        widen(name, offset, count, (slice, dtype) -> out[0] = FloatCodec.decode(slice, dtype, count));
        return out[0];
    }

    /** As {@link #floats(String, long, int)}, into {@code dst} as native-order float32. */
    public void floats(String name, long offset, long count, MemorySegment dst) {
        widen(name, offset, count, (slice, dtype) -> FloatCodec.decode(slice, dtype, count, dst));
    }

    /** Checks a range of a floating tensor, decodes its stored bytes with {@code decode}, then releases their pages. */
    private void widen(String name, long offset, long count, java.util.function.BiConsumer<MemorySegment, DType> decode) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloat()) {
            throw NeurotomeException.badCheckpoint(t.file() + ": tensor '" + name + "' has dtype " + t.dtype()
                    + "; a floating dtype (F32, F16, BF16, F64) is needed here");
        }
        if (offset < 0 || count < 0 || offset + count > t.numel()) {
            throw new IllegalArgumentException("elements [" + offset + ", " + (offset + count) + ") of tensor '" + name
                    + "' are outside its " + t.numel() + " elements");
        }
        long size = t.dtype().size();
        MemorySegment slice = bytes(name).asSlice(offset * size, count * size);
        decode.accept(slice, t.dtype());
        if (slice.isMapped()) {
            slice.unload();
        }
    }

    /** Whether {@code file} (tokenizer.json, generation_config.json, ...) is present. */
    public boolean hasFile(String file) {
        return Files.isRegularFile(dir.resolve(file));
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}
