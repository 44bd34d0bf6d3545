package org.neurotome.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading every reference checkpoint, and writing it back byte-identically (single file and sharded). */
class CheckpointRoundTripTest {
    static final Path REFERENCE = Path.of("src/test/resources/reference");

    @TempDir
    Path tmp;

    static Stream<String> cases() throws IOException {
        JsonNode index = Json.MAPPER.readTree(REFERENCE.resolve("cases.json").toFile());
        List<String> names = new ArrayList<>();
        index.get("cases").forEach(c -> names.add(c.get("name").asText()));
        return names.stream();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void readsEveryReferenceCheckpoint(String name) throws IOException {
        JsonNode expected = Json.MAPPER.readTree(REFERENCE.resolve(name).resolve("expected.json").toFile());
        JsonNode caseEntry = null;
        for (JsonNode c : Json.MAPPER.readTree(REFERENCE.resolve("cases.json").toFile()).get("cases")) {
            if (c.get("name").asText().equals(name)) {
                caseEntry = c;
            }
        }
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve(name))) {
            assertEquals(expected.get("model_type").asText(), ck.config().get("model_type").asText());
            DType storage = DType.valueOf(caseEntry.get("storage_dtype").asText());
            for (TensorInfo t : ck.tensors().values()) {
                assertEquals(storage, t.dtype(), t.name());
                float[] f = ck.floats(t.name());
                assertEquals(t.numel(), f.length);
                for (float v : f) {
                    assertTrue(Float.isFinite(v), t.name());
                }
            }
            long listed = 0;
            for (JsonNode f : caseEntry.get("files")) {
                // the checkpoint's own shards, not those of a subdirectory (a mixture of experts' pruned/)
                listed += f.asText().endsWith(".safetensors") && !f.asText().contains("/") ? 1 : 0;
            }
            assertEquals(listed, ck.shardFiles().size());
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void rewritesEveryTensorByteForByte(String name) {
        Path out = tmp.resolve(name + "-copy");
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve(name))) {
            List<OutputTensor> tensors = ck.tensors().keySet().stream().map(n -> OutputTensor.copyOf(ck, n)).toList();
            new CheckpointWriter(Long.MAX_VALUE, Map.of("format", "pt"), false).write(out, tensors, Map.of());
            try (Checkpoint back = Checkpoint.openTensorsOnly(out)) {
                assertEquals(ck.tensors().keySet(), back.tensors().keySet());
                for (String n : ck.tensors().keySet()) {
                    assertEquals(ck.info(n).dtype(), back.info(n).dtype());
                    assertArrayEquals(ck.info(n).shape(), back.info(n).shape());
                    assertArrayEquals(bytes(ck.bytes(n)), bytes(back.bytes(n)), n);
                }
                assertEquals("pt", back.metadata().get("format"));
            }
        }
    }

    @Test
    void writesShardsWithAnIndexAndReadsThemBack() throws IOException {
        Path out = tmp.resolve("sharded");
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("stories260K"))) {
            List<OutputTensor> tensors = ck.tensors().keySet().stream().map(n -> OutputTensor.copyOf(ck, n)).toList();
            CheckpointWriter.Written w = new CheckpointWriter(200_000, Map.of(), false)
                    .write(out, tensors, Map.of(Checkpoint.CONFIG, Files.readAllBytes(ck.dir().resolve(Checkpoint.CONFIG))));
            long shards = w.sha256().keySet().stream().filter(f -> f.startsWith("model-")).count();
            assertTrue(shards > 3, "1 MB of tensors in 200 kB shards: " + w.sha256().keySet());
            try (Checkpoint back = Checkpoint.open(out)) {
                assertEquals(shards, back.shardFiles().size());
                for (String n : ck.tensors().keySet()) {
                    assertArrayEquals(bytes(ck.bytes(n)), bytes(back.bytes(n)), n);
                }
                for (Path shard : back.shardFiles()) {
                    assertEquals(0, (8 + headerLength(shard)) % 8, "data section is 8-byte aligned in " + shard);
                }
            }
            JsonNode index = Json.MAPPER.readTree(out.resolve(Checkpoint.INDEX).toFile());
            long total = ck.tensors().values().stream().mapToLong(TensorInfo::byteLength).sum();
            assertEquals(total, index.get("metadata").get("total_size").asLong());
        }
    }

    @Test
    void convertsDtypesOnWrite() {
        Path out = tmp.resolve("bf16");
        float[] values = {1f, -0f, 3.14159f, 1e-20f};
        new CheckpointWriter(1 << 20, Map.of(), false).write(out,
                List.of(OutputTensor.ofFloats("w", DType.BF16, new long[] {2, 2}, values)), Map.of());
        try (Checkpoint back = Checkpoint.openTensorsOnly(out)) {
            assertEquals(DType.BF16, back.info("w").dtype());
            float[] f = back.floats("w");
            for (int i = 0; i < values.length; i++) {
                assertEquals(FloatCodec.bf16ToFloat(FloatCodec.floatToBf16(values[i])), f[i]);
            }
        }
    }

    @Test
    void refusesAnExistingOutputUnlessForcedAndLeavesNoPartialOnFailure() throws IOException {
        Path out = tmp.resolve("out");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "x");
        List<OutputTensor> one = List.of(OutputTensor.ofFloats("a", DType.F32, new long[] {1}, new float[] {1}));
        NeurotomeException e = assertThrows(NeurotomeException.class,
                () -> new CheckpointWriter(1 << 20, Map.of(), false).write(out, one, Map.of()));
        assertEquals(ExitCode.OUTPUT_FAILED, e.exitCode());
        assertTrue(Files.exists(out.resolve("keep.txt")), "existing output untouched");

        OutputTensor failing = new OutputTensor("b", DType.F32, new long[] {4}, sink -> {
            throw new IOException("disk full");
        });
        assertThrows(NeurotomeException.class,
                () -> new CheckpointWriter(1 << 20, Map.of(), true).write(out, List.of(one.getFirst(), failing), Map.of()));
        assertTrue(Files.exists(out.resolve("keep.txt")), "a failed forced write keeps the old output");
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of("out"), s.map(p -> p.getFileName().toString()).toList(), "no partial directory left");
        }
        new CheckpointWriter(1 << 20, Map.of(), true).write(out, one, Map.of());
        assertFalse(Files.exists(out.resolve("keep.txt")), "forced write replaced the directory");
        assertTrue(Files.exists(out.resolve(Checkpoint.SINGLE)));
    }

    @Test
    void indexNamingAMissingShardOrTensorIsRejected() throws IOException {
        Path out = tmp.resolve("sharded");
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("llama_sharded_f16"))) {
            List<OutputTensor> tensors = ck.tensors().keySet().stream().map(n -> OutputTensor.copyOf(ck, n)).toList();
            new CheckpointWriter(30_000, Map.of(), false)
                    .write(out, tensors, Map.of(Checkpoint.CONFIG, Files.readAllBytes(ck.dir().resolve(Checkpoint.CONFIG))));
        }
        Path index = out.resolve(Checkpoint.INDEX);
        String text = Files.readString(index);
        Files.writeString(index, text.replace("\"model.norm.weight\"", "\"model.not_there\""));
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> Checkpoint.open(out));
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
        assertTrue(e.getMessage().contains("tensor 'model.not_there' is mapped to"), e.getMessage());

        Files.writeString(index, text.replace("model-00002-of-00002.safetensors", "model-00009-of-00002.safetensors"));
        e = assertThrows(NeurotomeException.class, () -> Checkpoint.open(out));
        assertTrue(e.getMessage().contains("names shard 'model-00009-of-00002.safetensors', which does not exist"), e.getMessage());
    }

    @Test
    void aSingleFileBesideAShardedIndexIsRefused() throws IOException {
        Path out = tmp.resolve("both");
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("llama_sharded_f16"))) {
            List<OutputTensor> tensors = ck.tensors().keySet().stream().map(n -> OutputTensor.copyOf(ck, n)).toList();
            new CheckpointWriter(30_000, Map.of(), false)
                    .write(out, tensors, Map.of(Checkpoint.CONFIG, Files.readAllBytes(ck.dir().resolve(Checkpoint.CONFIG))));
        }
        Files.write(out.resolve(Checkpoint.SINGLE), Files.readAllBytes(out.resolve("model-00001-of-00002.safetensors")));
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> Checkpoint.open(out));
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
        assertEquals(out + ": has both model.safetensors and model.safetensors.index.json, which names other shards;"
                + " the two may hold different weights, so remove the one that is not the model", e.getMessage());
    }

    private static long headerLength(Path shard) throws IOException {
        byte[] b = Arrays.copyOf(Files.readAllBytes(shard), 8);
        return java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }
}
