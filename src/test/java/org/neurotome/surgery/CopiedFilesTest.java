package org.neurotome.surgery;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.cna.RandomCheckpoint;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An edited checkpoint carries only what a checkpoint needs besides its weights (generation
 * config, tokenizer, chat template, licence), copied byte for byte; the unedited weights in
 * other formats, code, folders and anything unknown stay behind, listed in the manifest's
 * {@code left_out} with the reason, and are never read — a 3 GiB {@code pytorch_model.bin}
 * (sparse: it takes no disk) costs nothing.
 */
class CopiedFilesTest {
    @TempDir
    Path tmp;

    @Test
    void onlyWhatACheckpointNeedsIsCopiedAndTheRestIsListedUnread() throws IOException {
        Path in = RandomCheckpoint.write(tmp.resolve("in"), RandomCheckpoint.llama(2, 2, 4, 8), 1, 0.02);
        Map<String, String> kept = Map.of("generation_config.json", "{\"max_length\": 20}\n",
                "chat_template.jinja", "{{ messages }}\n", "LICENSE", "the terms\n", "tokenizer.model", "sentencepiece\n");
        for (Map.Entry<String, String> f : kept.entrySet()) {
            Files.writeString(in.resolve(f.getKey()), f.getValue());
        }
        try (RandomAccessFile big = new RandomAccessFile(in.resolve("pytorch_model.bin").toFile(), "rw")) {
            big.setLength(3L << 30); // larger than any Java array: reading it whole is impossible
        }
        for (String other : List.of("tf_model.h5", "model.gguf", "notes.txt", "modeling_custom.py", "README.md",
                ".gitattributes")) {
            Files.writeString(in.resolve(other), "not for the output\n");
        }
        Files.createDirectories(in.resolve("original"));
        Files.writeString(in.resolve("original/consolidated.00.pth"), "weights\n");

        Path out = tmp.resolve("out");
        try (Checkpoint ck = Checkpoint.open(in)) {
            Surgeon.apply(ck, List.of(), new Surgeon.Options(out, null, null, false, Map.of(), Map.of(), Map.of()));
        }
        for (String f : kept.keySet()) {
            assertArrayEquals(Files.readAllBytes(in.resolve(f)), Files.readAllBytes(out.resolve(f)), f + " copied as it is");
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        Set<String> written;
        try (Stream<Path> list = Files.list(out)) {
            written = new TreeSet<>(list.map(p -> p.getFileName().toString()).toList());
        }
        for (String absent : List.of("pytorch_model.bin", "tf_model.h5", "model.gguf", "notes.txt", "modeling_custom.py",
                "README.md", ".gitattributes", "original")) {
            assertFalse(written.contains(absent), absent + " is not in the output: " + written);
        }
        JsonNode manifest = Json.MAPPER.readTree(out.resolve(Manifest.FILE).toFile());
        JsonNode leftOut = manifest.get(CopiedFiles.SECTION);
        assertEquals(new TreeSet<>(List.of("README.md", "model.gguf", "modeling_custom.py", "notes.txt", "original",
                "pytorch_model.bin", "tf_model.h5")), new TreeSet<>(iterable(leftOut)), "every file left out is listed");
        assertTrue(leftOut.get("pytorch_model.bin").asText().contains("unedited weights"), leftOut.toString());
        assertTrue(leftOut.get("original").asText().startsWith("a folder"), leftOut.toString());
        assertEquals(written.size() - 1, manifest.get("files").size(), "the manifest lists every file but itself");
    }

    private static List<String> iterable(JsonNode object) {
        return object.properties().stream().map(Map.Entry::getKey).toList();
    }
}
