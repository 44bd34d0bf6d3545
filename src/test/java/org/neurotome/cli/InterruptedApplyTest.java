package org.neurotome.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Sha256;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.testing.TestModels;
import org.neurotome.checkpoint.OutputTensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An {@code apply} killed (SIGKILL) while it writes leaves nothing that looks like a finished
 * checkpoint: only a hidden partial directory, never the output directory; the input is
 * unchanged, and the next run writes the output normally and removes the dead run's partial
 * (and takes over its stale lock). Terminated (SIGTERM) instead, it removes its partial itself,
 * and a recover stage its scratch directory. Killed during its eval, or failing to write its
 * archive for want of space, a run leaves an earlier output and archive as they were.
 */
class InterruptedApplyTest {
    @TempDir
    Path tmp;

    @Test
    void aKilledRunLeavesNoFinishedLookingOutput() throws Exception {
        Path model = tmp.resolve("model");
        generate(model);
        var before = TestModels.contentHashes(model);
        Path recipe = recipe();
        Process p = startApply(recipe);
        Path partial = awaitPartial(p);
        assertTrue(partial != null, "the run was seen writing its partial directory");
        p.destroyForcibly().waitFor();
        assertFalse(Files.exists(tmp.resolve("out")), "no output directory after the kill");
        assertTrue(partial.getFileName().toString().startsWith("."), "what is left is hidden");
        assertEquals(before, TestModels.contentHashes(model), "the input is unchanged");

        assertEquals(0, Main.execute("apply", recipe.toString()), "the next run writes the output");
        assertEquals(0, Main.execute("verify", tmp.resolve("out").toString()));
        assertFalse(Files.exists(partial), "and removes the dead run's partial directory");
    }

    @Test
    void aTerminatedRunRemovesItsPartialAndItsLock() throws Exception {
        Path model = tmp.resolve("model");
        generate(model);
        Path recipe = recipe();
        Process p = startApply(recipe);
        assertTrue(awaitPartial(p) != null, "the run was seen writing its partial directory");
        p.destroy();
        p.waitFor();
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.map(x -> x.getFileName().toString()).filter(n -> n.startsWith(".")).toList(),
                    "SIGTERM: no partial directory and no lock file left");
        }
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void aRunKilledDuringEvalLeavesTheEarlierOutputAndItsArchive() throws Exception {
        Path recipe = evaluatedRecipe(400);
        CliRun.stdout(0, "apply", recipe.toString());
        Path out = tmp.resolve("out");
        Map<String, String> earlier = TestModels.treeHashes(out);
        String archive = Sha256.hex(tmp.resolve("out.tar"));

        anotherHead(recipe);
        Process p = startApply(List.of(), recipe.toString(), "--force");
        assertTrue(awaitLog(p, "eval quick"), "the run was seen starting its eval");
        p.destroyForcibly().waitFor();
        assertEquals(earlier, TestModels.treeHashes(out), "the earlier output is untouched");
        assertEquals(archive, Sha256.hex(tmp.resolve("out.tar")), "and so is its archive");
        assertEquals(0, Main.execute("verify", out.toString()));

        CliRun.stdout(0, "apply", recipe.toString(), "--force");
        assertEquals(List.of(), TestModels.hiddenEntries(tmp), "the next run removes the dead run's partial");
    }

    /**
     * A disk that fills while the archive is written (the file size limit of {@code ulimit -f},
     * set between the largest file of the output and the archive, fails that write as a full
     * disk would) leaves the earlier output and archive as they were.
     */
    @Test
    void aWriteFailingAfterTheEvalLeavesTheEarlierOutput() throws Exception {
        Path recipe = evaluatedRecipe(4);
        CliRun.stdout(0, "apply", recipe.toString());
        Path out = tmp.resolve("out");
        Map<String, String> earlier = TestModels.treeHashes(out);
        long largest = 0;
        for (String f : earlier.keySet()) {
            largest = Math.max(largest, Files.size(out.resolve(f)));
        }
        long limitKiB = largest / 1024 + 2;
        assertTrue(Files.size(tmp.resolve("out.tar")) > limitKiB * 1024, "the archive is larger than the limit");
        String archive = Sha256.hex(tmp.resolve("out.tar"));

        anotherHead(recipe);
        Process p = startApply(List.of("bash", "-c", "ulimit -f " + limitKiB + " && exec \"$0\" \"$@\""),
                recipe.toString(), "--force");
        assertEquals(4, p.waitFor(), Files.readString(tmp.resolve("log.txt")));
        assertTrue(Files.readString(tmp.resolve("log.txt")).contains("File too large"), Files.readString(tmp.resolve("log.txt")));
        assertEquals(earlier, TestModels.treeHashes(out), "the earlier output is untouched");
        assertEquals(archive, Sha256.hex(tmp.resolve("out.tar")), "and so is its archive");
        assertEquals(List.of(), TestModels.hiddenEntries(tmp), "no partial directory, archive or lock left");
    }

    @Test
    void aTerminatedRecoveryRemovesItsScratchDirectory() throws Exception {
        Path model = tmp.resolve("model");
        TestModels.copy(Path.of("checkpoints/fixture-llama"), model);
        Path recipe = recipe("""
                recover:
                  corpus: arithmetic
                  target_modules: [q_proj]
                  rank: 2
                  steps: 100000
                  batch_size: 4
                """);
        Process p = startApply(recipe);
        assertTrue(awaitLog(p, "recover: train"), "the run was seen training");
        p.destroy();
        p.waitFor();
        assertEquals(List.of(), TestModels.hiddenEntries(tmp), "SIGTERM: no scratch, partial or lock left");
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    /** fixture-llama in {@code tmp/model} and a recipe zeroing one of its heads, evaluated on {@code cases} arithmetic cases, archived. */
    private Path evaluatedRecipe(int cases) throws IOException {
        TestModels.copy(Path.of("checkpoints/fixture-llama"), tmp.resolve("model"));
        Files.writeString(tmp.resolve("suite.yaml"), """
                name: quick
                tasks:
                  - kind: arithmetic
                    dataset: %s
                    limit: %d
                gates:
                  - arithmetic.accuracy.delta >= -1
                """.formatted(Path.of("eval/datasets/arithmetic.jsonl").toAbsolutePath(), cases));
        return recipe("""
                  archive: tar
                eval:
                  suite: suite.yaml
                """);
    }

    /** The recipe, zeroing another head: a run of it writes an output other than the earlier one. */
    private static void anotherHead(Path recipe) throws IOException {
        Files.writeString(recipe, Files.readString(recipe).replace("heads: [0.1]", "heads: [1.2]"));
    }

    /** A recipe zeroing one head of {@code tmp/model} into {@code tmp/out}. */
    private Path recipe() throws IOException {
        return recipe("");
    }

    /** A recipe zeroing one head of {@code tmp/model} into {@code tmp/out}, ending with {@code more} (more keys of output first). */
    private Path recipe(String more) throws IOException {
        Path recipe = tmp.resolve("recipe.yaml");
        Files.writeString(recipe, """
                model:
                  path: model
                edit:
                  - op: zero-heads
                    heads: [0.1]
                output:
                  dir: out
                """ + more);
        return recipe;
    }

    /** {@code neurotome apply RECIPE} in a JVM of its own, its output in {@code tmp/log.txt}. */
    private Process startApply(Path recipe) throws IOException {
        return startApply(List.of(), recipe.toString());
    }

    /** {@code neurotome apply ARGS} in a JVM of its own, started through {@code wrapper} (a command line before java's). */
    private Process startApply(List<String> wrapper, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(wrapper);
        command.addAll(List.of(java, "-Dai.djl.offline=true", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "apply"));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(tmp.resolve("log.txt").toFile()).start();
    }

    /** Whether {@code p} logs a line containing {@code text} before it ends (or a minute passes). */
    private boolean awaitLog(Process p, String text) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (p.isAlive() && System.nanoTime() < deadline) {
            if (Files.readString(tmp.resolve("log.txt")).contains(text)) {
                return true;
            }
            Thread.sleep(5);
        }
        return false;
    }

    /** The partial directory {@code p} writes, once it appears; null if the run ends (or a minute passes) first. */
    private Path awaitPartial(Process p) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (p.isAlive() && System.nanoTime() < deadline) {
            try (Stream<Path> s = Files.list(tmp)) {
                Path partial = s.filter(x -> x.getFileName().toString().startsWith(".out.partial-")).findFirst()
                        .orElse(null);
                if (partial != null) {
                    return partial;
                }
            }
            Thread.sleep(5);
        }
        return null;
    }

    /** A 4-layer Llama of about 300 MB, so that writing it takes a while. */
    private static void generate(Path dir) {
        int d = 1024;
        int ffn = 4096;
        int vocab = 8000;
        List<OutputTensor> ts = new ArrayList<>();
        ts.add(filled("model.embed_tokens.weight", vocab, d));
        for (int l = 0; l < 4; l++) {
            String p = "model.layers." + l + ".";
            ts.add(filled(p + "input_layernorm.weight", 1, d));
            for (String m : List.of("q", "k", "v", "o")) {
                ts.add(filled(p + "self_attn." + m + "_proj.weight", d, d));
            }
            ts.add(filled(p + "post_attention_layernorm.weight", 1, d));
            ts.add(filled(p + "mlp.gate_proj.weight", ffn, d));
            ts.add(filled(p + "mlp.up_proj.weight", ffn, d));
            ts.add(filled(p + "mlp.down_proj.weight", d, ffn));
        }
        ts.add(filled("model.norm.weight", 1, d));
        ts.add(filled("lm_head.weight", vocab, d));
        String config = """
                {"model_type": "llama", "hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": 4,
                 "num_attention_heads": 8, "num_key_value_heads": 8, "vocab_size": %d,
                 "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "tie_word_embeddings": false}
                """.formatted(d, ffn, vocab);
        new CheckpointWriter(Long.MAX_VALUE, Map.of(), false).write(dir, ts, Map.of(Checkpoint.CONFIG, config.getBytes()));
    }

    private static OutputTensor filled(String name, int rows, int cols) {
        long[] shape = rows == 1 ? new long[] {cols} : new long[] {rows, cols};
        return new OutputTensor(name, DType.F32, shape, out -> {
            byte[] row = new byte[cols * 4];
            for (int i = 0; i < cols; i++) {
                int bits = Float.floatToIntBits(0.01f * ((i % 7) - 3));
                row[4 * i] = (byte) bits;
                row[4 * i + 1] = (byte) (bits >> 8);
                row[4 * i + 2] = (byte) (bits >> 16);
                row[4 * i + 3] = (byte) (bits >> 24);
            }
            for (int r = 0; r < rows; r++) {
                out.write(row);
            }
        });
    }
}
