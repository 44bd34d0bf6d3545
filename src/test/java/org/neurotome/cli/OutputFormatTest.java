package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.model.TinyTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The written checkpoint's format follows the input and says what it holds: sharded as the
 * input is, {@code torch_dtype} naming a converted dtype, and {@code diff} not mistaking the
 * rounding of a conversion for an edit.
 */
class OutputFormatTest {
    @TempDir
    Path tmp;

    private Path recipe(Path model, String output) throws IOException {
        Path file = tmp.resolve("recipe.yaml");
        Files.writeString(file, """
                model:
                  path: %s
                  device: cpu
                edit:
                  - op: zero-heads
                    heads: [1.2]
                output:
                %s
                """.formatted(model.toAbsolutePath(), output.indent(2).stripTrailing()));
        return file;
    }

    /** Tensor name → the file holding it. */
    private static Map<String, String> shardOf(Path dir) {
        Map<String, String> m = new TreeMap<>();
        try (Checkpoint ck = Checkpoint.open(dir)) {
            for (TensorInfo t : ck.tensors().values()) {
                m.put(t.name(), t.file().getFileName().toString());
            }
        }
        return m;
    }

    @Test
    void aShardedInputIsWrittenShardedTheSameWay() throws IOException {
        Path input = TinyTokenizer.copyReference("llama_sharded_f16", tmp.resolve("in"));
        Path out = tmp.resolve("out");
        CliRun run = CliRun.of("apply", recipe(input, "dir: " + out).toString());
        assertEquals(0, run.code(), run.err());
        assertTrue(Files.exists(out.resolve(Checkpoint.INDEX)));
        assertFalse(Files.exists(out.resolve(Checkpoint.SINGLE)));
        assertEquals(shardOf(input), shardOf(out), "every tensor in the shard of the same name as in the input");

        Path capped = tmp.resolve("capped");
        assertEquals(0, CliRun.of("apply", recipe(input, "dir: " + capped + "\nmax_shard_size: 1GB").toString()).code());
        assertTrue(Files.exists(capped.resolve(Checkpoint.SINGLE)), "a size limit replaces the input's sharding");
    }

    @Test
    void aConvertedDtypeIsNamedInConfigAndDiffComparesAtThatPrecision() throws IOException {
        Path input = TinyTokenizer.copyReference("stories260K", tmp.resolve("in"));
        Path out = tmp.resolve("out");
        CliRun run = CliRun.of("apply", recipe(input, "dir: " + out + "\ndtype: BF16").toString());
        assertEquals(0, run.code(), run.err());
        JsonNode config = Json.MAPPER.readTree(out.resolve(Checkpoint.CONFIG).toFile());
        assertEquals("bfloat16", config.get("torch_dtype").asText());
        assertEquals(Json.MAPPER.readTree(input.resolve(Checkpoint.CONFIG).toFile()).get("hidden_size"),
                config.get("hidden_size"), "the rest of the config is kept");

        JsonNode diff = Json.MAPPER.readTree(CliRun.stdout(0, "diff", input.toString(), out.toString(), "--json"));
        TreeSet<String> heads = new TreeSet<>();
        diff.get("heads").forEach(h -> heads.add(h.get("head").asText() + " " + h.get("change").asText()));
        assertEquals(new TreeSet<>(java.util.List.of("1.2 zeroed")), heads, "only the edited head, not rounding");
        assertEquals(0, diff.get("neurons").size(), diff.get("neurons").toString());
        assertTrue(diff.get("precision").asText().contains("BF16"), diff.toString());
        JsonNode embed = null;
        for (JsonNode t : diff.get("tensors")) {
            if (t.get("name").asText().equals("model.embed_tokens.weight")) {
                embed = t;
            }
        }
        assertEquals("dtype F32 -> BF16, values equal at BF16 precision", embed.get("status").asText());

        Path kept = tmp.resolve("kept");
        assertEquals(0, CliRun.of("apply", recipe(input, "dir: " + kept).toString()).code());
        assertEquals(Files.readString(input.resolve(Checkpoint.CONFIG)), Files.readString(kept.resolve(Checkpoint.CONFIG)),
                "without a conversion config.json is copied byte for byte");
    }
}
