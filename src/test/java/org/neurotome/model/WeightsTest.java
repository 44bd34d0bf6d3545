package org.neurotome.model;

import ai.djl.Device;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.Json;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.TensorInfo;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Weights written back through {@link CheckpointTensors} reproduce the source
 * checkpoint byte for byte (names, shapes, orientation, fused and reordered rows, F16/BF16
 * re-encoding), and a config written by {@link ModelConfig#toConfigJson()} reads back equal.
 */
class WeightsTest {
    static List<String> cases() {
        return ReferenceData.caseNames();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void savedWeightsEqualTheSourceCheckpointByteForByte(String name, @TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        try (Checkpoint src = Checkpoint.open(ReferenceData.caseDir(name)); Weights w = Weights.load(src, Device.cpu())) {
            DType dtype = src.tensors().values().iterator().next().dtype();
            byte[] config = Json.pretty().writeValueAsString(src.config()).getBytes(StandardCharsets.UTF_8);
            new CheckpointWriter(1L << 30, Map.of("format", "pt"), false)
                    .write(out, CheckpointTensors.of(w, dtype), Map.of(Checkpoint.CONFIG, config));
            try (Checkpoint back = Checkpoint.open(out)) {
                assertEquals(src.tensors().keySet(), back.tensors().keySet());
                for (TensorInfo t : src.tensors().values()) {
                    TensorInfo b = back.info(t.name());
                    assertEquals(t.dtype(), b.dtype(), t.name());
                    assertArrayEquals(t.shape(), b.shape(), t.name());
                    assertArrayEquals(src.bytes(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                            back.bytes(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), t.name());
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void configJsonRoundTrips(String name) {
        try (Checkpoint src = Checkpoint.open(ReferenceData.caseDir(name))) {
            ModelConfig c = ModelConfig.from(src.config());
            assertEquals(c, ModelConfig.from(c.toConfigJson()));
        }
    }
}
