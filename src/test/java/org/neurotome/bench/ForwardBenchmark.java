package org.neurotome.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import org.neurotome.Json;
import org.neurotome.arch.Activation;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.InitialWeights;
import org.neurotome.model.Transformer;
import org.neurotome.model.Weights;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Tokens per second of one batched forward (B sequences of S tokens, logits at each row's
 * last position; the median and the best of a few timed runs after one warm-up) on random checkpoints shaped like GPT-2 small (124M) and a GQA Llama
 * (~100M), written on first use under the given directory. Writes each model's timings and
 * the last-position logits of row 0 to {@code <dir>/<model>/java.json}, which
 * {@code scripts/torch_forward.py} compares against. Run by {@code scripts/bench-forward.sh}.
 */
public final class ForwardBenchmark {
    private ForwardBenchmark() {
    }

    /** The benchmark shapes: GPT-2 small, and a Llama with 4 kv heads for 12 query heads. */
    static List<ModelConfig> shapes() {
        return List.of(
                new ModelConfig("gpt2", 12, 12, 12, 64, 768, 3072, 50257, 1024, 1e-5, 0, 0, 0, Activation.GELU_NEW,
                        true, true, true, 50256, List.of(50256)),
                new ModelConfig("llama", 12, 12, 4, 64, 768, 2048, 32000, 2048, 1e-5, 10000, 64, 0, Activation.SILU,
                        true, false, false, 1, List.of(2)));
    }

    static String name(ModelConfig c) {
        return c.modelType() + "-bench";
    }

    /** The token ids both implementations run: deterministic, spread over the vocabulary. */
    static List<int[]> batch(int rows, int seq, int vocab) {
        List<int[]> ids = new ArrayList<>();
        for (int b = 0; b < rows; b++) {
            int[] row = new int[seq];
            for (int i = 0; i < seq; i++) {
                row[i] = (int) ((b * 7919L + i * 104729L + 13) % vocab);
            }
            ids.add(row);
        }
        return ids;
    }

    static void writeCheckpoint(ModelConfig c, Path dir) throws Exception {
        Architecture arch = c.architecture();
        Function<String, float[]> values = InitialWeights.tensors(c, new Random(1234), 0.02);
        List<OutputTensor> tensors = new ArrayList<>();
        for (String n : arch.tensorNames(c)) {
            float[] v = values.apply(n);
            tensors.add(OutputTensor.ofFloats(n, DType.F32, shapeOf(arch, c, n), v));
        }
        byte[] config = Json.pretty().writeValueAsString(c.toConfigJson()).getBytes(StandardCharsets.UTF_8);
        new CheckpointWriter(1L << 32, Map.of("format", "pt"), true).write(dir, tensors, Map.of(Checkpoint.CONFIG, config));
    }

    private static long[] shapeOf(Architecture arch, ModelConfig c, String tensor) {
        for (var role : arch.roles(c)) {
            for (int l = 0; l < (role.perLayer() ? c.numLayers() : 1); l++) {
                String n = role.perLayer() ? arch.tensorName(role, l) : arch.tensorName(role);
                if (n.equals(tensor)) {
                    return arch.shape(role, c);
                }
            }
        }
        throw new IllegalArgumentException(tensor);
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "bench-data");
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int seq = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int iters = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        Engine.getEngine("PyTorch");
        int threads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        for (ModelConfig c : shapes()) {
            Path model = dir.resolve(name(c));
            if (!Files.exists(model.resolve(Checkpoint.CONFIG))) {
                writeCheckpoint(c, model);
            }
            List<int[]> ids = batch(rows, seq, c.vocabSize());
            try (Checkpoint ckpt = Checkpoint.open(model); Weights w = Weights.load(ckpt, Device.cpu());
                 Transformer t = new Transformer(w)) {
                long params = w.parameters().values().stream().mapToLong(a -> a.size()).sum();
                float[] logits;
                try (ForwardResult r = t.forward(ForwardRequest.tokens(ids))) {
                    logits = r.lastLogits(0);
                }
                double[] seconds = new double[iters];
                for (int i = 0; i < iters; i++) {
                    long t0 = System.nanoTime();
                    try (ForwardResult r = t.forward(ForwardRequest.tokens(ids))) {
                        r.lastLogits(0);
                    }
                    seconds[i] = (System.nanoTime() - t0) / 1e9;
                }
                double[] sorted = seconds.clone();
                Arrays.sort(sorted);
                double median = sorted[iters / 2];
                var out = Json.MAPPER.createObjectNode();
                out.put("model", name(c)).put("params", params).put("batch", rows).put("seq", seq)
                        .put("threads", threads).put("median_s", median).put("best_s", sorted[0])
                        .put("tokens_per_s", rows * seq / median);
                var s = out.putArray("seconds");
                Arrays.stream(seconds).forEach(s::add);
                var l = out.putArray("logits_row0");
                for (float v : logits) {
                    l.add(v);
                }
                Files.writeString(model.resolve("java.json"), Json.MAPPER.writeValueAsString(out));
                System.out.printf("java  %-12s %5.1fM params  %2d threads  %d x %d tokens  median %.3f s  %8.1f tokens/s%n",
                        name(c), params / 1e6, threads, rows, seq, median, rows * seq / median);
            }
        }
    }
}
