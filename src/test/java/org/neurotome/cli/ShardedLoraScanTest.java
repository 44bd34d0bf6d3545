package org.neurotome.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shipped §5 recipe ({@code recipes/lora-layer-scan.yaml}) cut down to 10 training steps a
 * layer, its lora-scan over the fixture's 4 layers run in 3 shards ({@code --set
 * locate.0.shards=3}: layers 0, 1 and 2–3): {@code apply} writes the findings (each layer's
 * gains, the best layer, the CNA against the best layer's LoRA), the recovery's adapter, the
 * eval report (but for the output's path it names) and the model tensors the unsharded scan
 * writes, byte for byte. More shards than layers scanned is
 * refused with one error line, exit 2, before anything is written.
 */
class ShardedLoraScanTest {
    private static final Path QUICK = Path.of("src/test/resources/suites/quick").toAbsolutePath();

    @TempDir
    Path tmp;

    private CliRun apply(Path out, String... sets) {
        List<String> args = new ArrayList<>(List.of("apply", "recipes/lora-layer-scan.yaml", "--out", out.toString(),
                "--threads", "1"));
        for (String set : List.of("locate.0.limit=6", "locate.0.train.steps=10", "locate.0.train.batch_size=8",
                "locate.0.score.limit=12", "recover.steps=10", "recover.batch_size=8",
                "eval.suite=" + QUICK.resolve("arithmetic.yaml"))) {
            args.add("--set");
            args.add(set);
        }
        for (String set : sets) {
            args.add("--set");
            args.add(set);
        }
        return CliRun.of(args.toArray(String[]::new));
    }

    @Test
    void aLoraScanInShardsWritesTheUnshardedFindingsAdapterAndModel() throws Exception {
        Path a = tmp.resolve("whole");
        Path b = tmp.resolve("sharded");
        CliRun whole = apply(a);
        CliRun sharded = apply(b, "locate.0.shards=3");
        assertTrue(whole.code() == 0 || whole.code() == 1, whole.err());
        assertEquals(whole.code(), sharded.code(), sharded.err());
        String own = "lora-scan: the model's own accuracy";
        assertEquals(1, whole.err().split(own, -1).length - 1, whole.err());
        assertEquals(3, sharded.err().split(own, -1).length - 1, "each shard scores the model: " + sharded.err());
        assertArrayEquals(Files.readAllBytes(a.resolve("findings.json")), Files.readAllBytes(b.resolve("findings.json")),
                "findings.json");
        for (String f : List.of("adapter/adapter_model.safetensors", "adapter/adapter_config.json")) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
        assertEquals(Files.readString(a.resolve("eval/report.json")),
                Files.readString(b.resolve("eval/report.json")).replace(b.toString(), a.toString()),
                "eval/report.json, which names its output");
        assertArrayEquals(ShardedLocateTest.tensors(a.resolve("model.safetensors")),
                ShardedLocateTest.tensors(b.resolve("model.safetensors")), "the tensors of model.safetensors");
    }

    @Test
    void moreShardsThanLayersScannedAreOneLineExitTwo() {
        String[][] cases = {
                {"locate.0.shards=5", "more shards than layers scanned at locate.0.shards; got 5; allowed: 1 to 4"},
                {"locate.0.scan=1-2", "locate.0.shards=3", "more shards than layers scanned at locate.0.shards; got 3;"
                        + " allowed: 1 to 2"},
                {"locate.0.shards=0", "invalid value at locate.0.shards; got 0"},
        };
        for (String[] c : cases) {
            Path out = tmp.resolve("bad");
            String[] sets = java.util.Arrays.copyOf(c, c.length - 1);
            CliRun run = apply(out, sets);
            String expected = c[c.length - 1];
            assertEquals(2, run.code(), String.join(" ", sets) + ": " + run.err());
            assertTrue(run.err().contains(expected), run.err());
            assertEquals(1, run.err().lines().filter(l -> l.startsWith("error: ")).count(), run.err());
            assertFalse(run.err().contains("Exception"), run.err());
            assertFalse(Files.exists(out), "nothing written");
        }
    }
}
