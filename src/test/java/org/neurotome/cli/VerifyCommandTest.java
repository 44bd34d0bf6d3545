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
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void verifyComparesTheWholeFileListSubdirectoriesIncluded() throws IOException {
        Path out = tmp.resolve("out");
        new CheckpointWriter(1 << 20, Map.of(), false).write(out,
                List.of(OutputTensor.ofFloats("w", DType.F32, new long[] {1}, new float[] {1})),
                Map.of(Checkpoint.CONFIG, "{\"model_type\":\"llama\"}".getBytes(), "notes.txt", "n".getBytes()),
                new CheckpointWriter.LastFile(Manifest.FILE, hashes -> Manifest.render(hashes, Map.of())));
        assertEquals(0, Main.execute("verify", out.toString()));

        for (String added : List.of("extra.txt", "eval/extra.html", "deep/er/x.bin")) {
            Path f = out.resolve(added);
            Files.createDirectories(f.getParent());
            Files.writeString(f, "added");
            CliRun run = CliRun.of("verify", out.toString());
            assertEquals(3, run.code(), added);
            assertTrue(run.out().contains(added) && run.out().contains("MISMATCH (manifest not listed"), run.out());
            Files.delete(f);
        }
        Files.move(out.resolve("notes.txt"), tmp.resolve("notes.txt"));
        CliRun removed = CliRun.of("verify", out.toString());
        assertEquals(3, removed.code());
        assertTrue(removed.out().contains("notes.txt") && removed.out().contains("found missing"), removed.out());
    }

    /**
     * An output whose manifest still names files to be written after it (a recipe run's eval
     * reports and model card) is one whose run did not finish: verify refuses it, whether the
     * files are missing or there but never hashed into the manifest.
     */
    @Test
    void verifyRefusesAnOutputWhosePlannedEvalDidNotFinish() throws IOException {
        Path out = tmp.resolve("out");
        new CheckpointWriter(1 << 20, Map.of(), false).write(out,
                List.of(OutputTensor.ofFloats("w", DType.F32, new long[] {1}, new float[] {1})),
                Map.of(Checkpoint.CONFIG, "{\"model_type\":\"llama\"}".getBytes()),
                new CheckpointWriter.LastFile(Manifest.FILE, hashes -> Manifest.render(hashes,
                        Map.of(Manifest.WRITTEN_AFTER, Json.MAPPER.createArrayNode().add("eval/report.json")))));
        CliRun missing = CliRun.of("verify", out.toString());
        assertEquals(3, missing.code(), missing.out());
        assertTrue(missing.out().contains("eval/report.json") && missing.out().contains("did not finish"), missing.out());

        Files.createDirectories(out.resolve("eval"));
        Files.writeString(out.resolve("eval/report.json"), "{}");
        CliRun unhashed = CliRun.of("verify", out.toString());
        assertEquals(3, unhashed.code(), unhashed.out());
        assertTrue(unhashed.out().contains("present but never hashed"), unhashed.out());

        Manifest.addFiles(out, List.of("eval/report.json"));
        CliRun finished = CliRun.of("verify", out.toString());
        assertEquals(0, finished.code(), finished.out());
    }
}
