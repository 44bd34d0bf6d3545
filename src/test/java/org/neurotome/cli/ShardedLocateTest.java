package org.neurotome.cli;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A locate step with {@code shards: N} ({@code docs/recipes.md}): {@code apply} runs the head
 * scan or the attribution in N shards and merges them, and writes the findings and the model
 * tensors the unsharded recipe writes, byte for byte (the model's metadata records the recipe,
 * whose text differs): a head scan of 300 cases in 4 shards, and (slow) an attribution of 1,000
 * cases in 2 under {@code --max-memory 449m}, which leaves room for about 400 steps a pass. Bad
 * values (0, negative, more shards than batches or passes, a bounded attribution) are refused
 * with one error line, exit 2, before anything is written.
 */
class ShardedLocateTest {
    @TempDir
    Path tmp;

    private Path recipe(String name, String method, String extra, int limit) throws Exception {
        Path r = tmp.resolve(name + ".yaml");
        Files.writeString(r, """
                model:
                  path: %s
                locate:
                  - id: found
                    method: %s
                    dataset: %s
                    limit: %d
                    top: 12
                %s
                select:
                  - id: chosen
                    from: found%s
                    top: 2
                edit:
                  - op: zero-heads
                    heads: ${chosen}
                output:
                  dir: %s
                """.formatted(Path.of("checkpoints/fixture-llama").toAbsolutePath(), method,
                Path.of("eval/datasets/arithmetic.jsonl").toAbsolutePath(), limit, extra.indent(4).stripTrailing(),
                method.equals("attribution") ? "\n    kind: heads" : "",
                tmp.resolve(name + "-out")));
        return r;
    }

    /** Applies the recipe with and without {@code shards}; both must write the same findings and model. */
    private void sameAsUnsharded(String method, String extra, String shards, int limit, String... options)
            throws Exception {
        Path whole = recipe(method + "-whole", method, extra, limit);
        Path sharded = recipe(method + "-sharded", method, extra + "\n" + shards, limit);
        for (Path r : new Path[] {whole, sharded}) {
            String[] args = new String[2 + options.length];
            args[0] = "apply";
            args[1] = r.toString();
            System.arraycopy(options, 0, args, 2, options.length);
            CliRun.stdout(0, args);
        }
        Path a = tmp.resolve(method + "-whole-out");
        Path b = tmp.resolve(method + "-sharded-out");
        assertArrayEquals(Files.readAllBytes(a.resolve("findings.json")), Files.readAllBytes(b.resolve("findings.json")),
                method + " " + shards + ": findings.json");
        assertArrayEquals(tensors(a.resolve("model.safetensors")), tensors(b.resolve("model.safetensors")),
                method + " " + shards + ": the tensors of model.safetensors");
    }

    /**
     * A safetensors file without its {@code __metadata__}, which records the recipe (its text
     * differs by the {@code shards} line): the tensors' header entries, then their bytes.
     */
    static byte[] tensors(Path file) throws Exception {
        byte[] all = Files.readAllBytes(file);
        int n = (int) ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode header = (ObjectNode) Json.MAPPER.readTree(new String(all, 8, n, StandardCharsets.UTF_8));
        header.remove("__metadata__");
        byte[] entries = Json.MAPPER.writeValueAsBytes(header);
        byte[] out = Arrays.copyOf(entries, entries.length + all.length - 8 - n);
        System.arraycopy(all, 8 + n, out, entries.length, all.length - 8 - n);
        return out;
    }

    @Test
    void aHeadScanInShardsWritesTheUnshardedFindingsAndModel() throws Exception {
        sameAsUnsharded("head-scan", "", "shards: 4", 300);
    }

    /** Slow: the model is streamed, its layers read again for each pass of each of the two runs. */
    @Test
    @Tag("slow")
    void anAttributionInShardsWritesTheUnshardedFindingsAndModel() throws Exception {
        sameAsUnsharded("attribution", "exhaustive: true", "shards: 2", 1000, "--max-memory", "449m");
    }

    @Test
    void badShardValuesAreOneLineExitTwo() throws Exception {
        String[][] cases = {
                {"head-scan", "shards: 0", "a whole number >= 1"},
                {"head-scan", "shards: -2", "a whole number >= 1"},
                {"head-scan", "shards: 301", "give shards: "},
                {"attribution", "shards: 2", "exhaustive: true"},
                {"attribution", "exhaustive: true\nshards: 2", "give shards: 1 or fewer"},
        };
        for (String[] c : cases) {
            Path r = recipe("bad", c[0], c[1], 300);
            CliRun run = CliRun.of("apply", r.toString());
            assertEquals(2, run.code(), c[1] + ": " + run.err());
            assertTrue(run.err().contains(c[2]) && run.err().contains("shards"), c[1] + ": " + run.err());
            assertEquals(1, run.err().lines().filter(l -> l.startsWith("error: ")).count(), c[1] + ": " + run.err());
            assertFalse(run.err().contains("Exception"), run.err());
            assertFalse(Files.exists(tmp.resolve("bad-out")), c[1] + ": nothing written");
        }
    }
}
