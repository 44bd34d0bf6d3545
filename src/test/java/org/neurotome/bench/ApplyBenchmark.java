package org.neurotome.bench;

import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.cli.Main;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Peak memory of {@code neurotome apply} with a zero-heads edit on a ~1 GiB generated Llama
 * checkpoint (F16, 8 layers, hidden 2048, FFN 5632, vocabulary 32000), measured in a fresh
 * JVM (VmHWM); baseline in the same run: the same JVM just opening the checkpoint.
 * Usage: {@code scripts/bench ApplyBenchmark [dir]} (default {@code bench-data/apply}).
 */
public final class ApplyBenchmark {
    private static final int LAYERS = 8;
    private static final int HIDDEN = 2048;
    private static final int FFN = 5632;
    private static final int VOCAB = 32000;
    private static final int HEADS = 16;

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("child-apply")) {
            long t0 = System.nanoTime();
            int code = Main.execute("apply", args[1], "--force");
            System.out.printf("%d %.2f %.0f%n", code, (System.nanoTime() - t0) / 1e9, BenchTable.procStatusMiB("VmHWM"));
            return;
        }
        if (args.length == 2 && args[0].equals("child-open")) {
            long t0 = System.nanoTime();
            try (Checkpoint ck = Checkpoint.open(Path.of(args[1]))) {
                System.out.printf("0 %.2f %.0f%n", (System.nanoTime() - t0) / 1e9, BenchTable.procStatusMiB("VmHWM"));
            }
            return;
        }
        Path dir = Path.of(args.length > 0 ? args[0] : "bench-data/apply").toAbsolutePath();
        Path model = dir.resolve("model");
        if (!Files.exists(model.resolve(Checkpoint.SINGLE))) {
            generate(model);
        }
        Path recipe = dir.resolve("zero-heads.yaml");
        Files.writeString(recipe, """
                model:
                  path: model
                edit:
                  - op: zero-heads
                    heads: [0.1, 3.7, 7.15]
                output:
                  dir: out
                """);
        long bytes = Files.size(model.resolve(Checkpoint.SINGLE));
        BenchTable table = new BenchTable("run (fresh JVM, -Xmx4g)", "checkpoint GiB", "seconds", "peak RSS MiB", "RSS / checkpoint");
        for (String mode : new String[] {"child-open", "child-apply"}) {
            String[] r = child(mode, mode.equals("child-open") ? model.toString() : recipe.toString());
            double rss = Double.parseDouble(r[2]);
            table.row(mode.equals("child-open") ? "baseline: open the checkpoint" : "apply zero-heads (3 heads)",
                    bytes / (double) (1L << 30), Double.parseDouble(r[1]), r[2], String.format("%.2f", rss * (1 << 20) / bytes));
        }
        table.print();
    }

    private static String[] child(String mode, String arg) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx4g", "-Dai.djl.offline=true", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), ApplyBenchmark.class.getName(), mode, arg)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        String[] lines = out.split("\n");
        String last = lines[lines.length - 1];
        if (p.waitFor() != 0 || !last.startsWith("0 ")) {
            throw new IllegalStateException(mode + " failed: " + out);
        }
        return last.split(" ");
    }

    private static void generate(Path dir) {
        List<OutputTensor> ts = new ArrayList<>();
        ts.add(random("model.embed_tokens.weight", VOCAB, HIDDEN, 1));
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            ts.add(ones(p + "input_layernorm.weight", HIDDEN));
            ts.add(random(p + "self_attn.q_proj.weight", HIDDEN, HIDDEN, 10 * l + 2));
            ts.add(random(p + "self_attn.k_proj.weight", HIDDEN, HIDDEN, 10 * l + 3));
            ts.add(random(p + "self_attn.v_proj.weight", HIDDEN, HIDDEN, 10 * l + 4));
            ts.add(random(p + "self_attn.o_proj.weight", HIDDEN, HIDDEN, 10 * l + 5));
            ts.add(ones(p + "post_attention_layernorm.weight", HIDDEN));
            ts.add(random(p + "mlp.gate_proj.weight", FFN, HIDDEN, 10 * l + 6));
            ts.add(random(p + "mlp.up_proj.weight", FFN, HIDDEN, 10 * l + 7));
            ts.add(random(p + "mlp.down_proj.weight", HIDDEN, FFN, 10 * l + 8));
        }
        ts.add(ones("model.norm.weight", HIDDEN));
        ts.add(random("lm_head.weight", VOCAB, HIDDEN, 9));
        String config = """
                {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": %d,
                 "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
                 "num_key_value_heads": %d, "vocab_size": %d, "max_position_embeddings": 2048,
                 "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "torch_dtype": "float16"}
                """.formatted(HIDDEN, FFN, LAYERS, HEADS, HEADS, VOCAB);
        new CheckpointWriter(Long.MAX_VALUE, Map.of("format", "pt"), true).write(dir, ts,
                Map.of(Checkpoint.CONFIG, config.getBytes()));
    }

    private static OutputTensor random(String name, int rows, int cols, int seed) {
        return new OutputTensor(name, DType.F16, new long[] {rows, cols}, out -> {
            SplittableRandom r = new SplittableRandom(seed);
            float[] row = new float[cols];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    row[j] = (float) (r.nextGaussian() * 0.02);
                }
                out.write(org.neurotome.checkpoint.FloatCodec.encode(row, DType.F16));
            }
        });
    }

    private static OutputTensor ones(String name, int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return OutputTensor.ofFloats(name, DType.F16, new long[] {n}, v);
    }
}
