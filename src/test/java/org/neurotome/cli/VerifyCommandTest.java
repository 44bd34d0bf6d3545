package org.neurotome.cli;

import org.neurotome.Sha256;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.checkpoint.OutputTensor;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The manifest written with a checkpoint, and {@code neurotome verify} catching any changed byte. */
class VerifyCommandTest {
    @TempDir
    Path tmp;

    @Test
    void verifyPassesOnWrittenOutputAndFailsAfterTampering() throws IOException {
        Path out = tmp.resolve("out");
        new CheckpointWriter(1 << 20, Map.of(), false).write(out,
                List.of(OutputTensor.ofFloats("w", DType.F32, new long[] {3}, new float[] {1, 2, 3})),
                Map.of(Checkpoint.CONFIG, "{\"model_type\":\"llama\"}".getBytes()),
                new CheckpointWriter.LastFile(Manifest.FILE, hashes -> Manifest.render(hashes, Map.of())));
        JsonNode manifest = Json.MAPPER.readTree(out.resolve(Manifest.FILE).toFile());
        assertEquals(Sha256.hex(out.resolve(Checkpoint.SINGLE)), manifest.get("files").get(Checkpoint.SINGLE).asText());
        assertEquals(0, Main.execute("verify", out.toString()));

        try (RandomAccessFile f = new RandomAccessFile(out.resolve(Checkpoint.SINGLE).toFile(), "rw")) {
            f.seek(f.length() - 1);
            f.write(0x7f);
        }
        assertEquals(3, Main.execute("verify", out.toString()));

        Files.delete(out.resolve(Manifest.FILE));
        assertEquals(3, Main.execute("verify", out.toString()));
    }
}
