package org.neurotome.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import org.neurotome.arch.Head;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.TensorSlice;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.cna.HeadScan;
import org.neurotome.cna.HeadScanResult;
import org.neurotome.cna.PromptSet;
import org.neurotome.cna.RandomCheckpoint;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.GreedyDecoder;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Transformer;
import org.neurotome.model.Weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The batched head scan ({@link HeadScan}) against the notebook's algorithm
 * ({@code Llama_view_arithmetic-head.ipynb}: for each head, copy the model, zero the head's
 * columns of the output projection, run a full forward, repeat), over 200 arithmetic cases
 * on one checkpoint, in one run. Two baselines: the notebook as written (one forward per
 * case) and the same with all cases in one padded batch per head. Each case is scored on
 * all its target tokens (logits at every position of prompt + target). Every algorithm's
 * per-head accuracy and mean log-probability are compared with the scan's. Every head costs
 * the notebook the same (a weight copy and the same forwards), so the one-forward-per-case
 * baseline is timed on an evenly spread sample of heads and scaled to all of them.
 *
 * <p>Usage: {@code scripts/bench HeadScanBenchmark [MODEL_DIR [SAMPLED_HEADS]]}; without a
 * directory an untrained Llama of the fixture Llama's shape (4 layers × 8 heads of 16 with 4
 * kv heads, D 128, FFN 384, the fixture tokenizer) is generated under {@code bench-data/cna/};
 * 8 heads are sampled by default.
 */
public final class HeadScanBenchmark {
    private static final int CASES = 200;

    private HeadScanBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 ? Path.of(args[0]) : Path.of("bench-data/cna/llama-fixture-shape");
        int sampled = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        if (args.length == 0 && !Files.exists(dir.resolve(Checkpoint.CONFIG))) {
            RandomCheckpoint.write(dir, RandomCheckpoint.llama(4, 8, 16, 384), 2024, 0.3);
        }
        List<EvalCase> all = EvalCaseFile.read(Path.of("eval/datasets/arithmetic.jsonl"));
        List<EvalCase> cases = new ArrayList<>();
        for (int i = 0; i < CASES; i++) {
            cases.add(all.get(i * all.size() / CASES));
        }
        System.out.printf("machine: %d cores, load average before: %s%n", Runtime.getRuntime().availableProcessors(),
                loadAverage());
        try (LanguageModel model = LanguageModel.open(dir, Device.cpu())) {
            ModelConfig c = model.config();
            PromptSet prompts = PromptSet.ofCases(model, cases, "arithmetic.jsonl");
            System.out.printf("model: %s (%d layers × %d heads, D %d, FFN %d, V %d); %d cases, %d scored tokens%n", dir,
                    c.numLayers(), c.numHeads(), c.hiddenSize(), c.ffnSize(), c.vocabSize(), CASES,
                    prompts.steps().size());
            HeadScan.run(model, PromptSet.ofCases(model, cases.subList(0, 8), "warm-up"), HeadScan.Options.defaults());

            long t0 = System.nanoTime();
            HeadScanResult scan = HeadScan.run(model, prompts, HeadScan.Options.defaults());
            double scanSeconds = (System.nanoTime() - t0) / 1e9;

            Map<String, float[]> tensors = new HashMap<>();
            Map<String, Integer> columns = new HashMap<>();
            try (Checkpoint ck = Checkpoint.open(dir)) {
                for (String name : ck.tensors().keySet()) {
                    tensors.put(name, ck.floats(name));
                    long[] shape = ck.info(name).shape();
                    columns.put(name, (int) shape[shape.length - 1]);
                }
            }
            int heads = c.numLayers() * c.numHeads();
            System.out.printf("batched scan: %.3f s%n", scanSeconds);
            Baseline batched = notebook(model, tensors, columns, prompts, true, heads);
            System.out.printf("notebook, one batch per head: %.3f s%n", batched.seconds);
            Baseline perCase = notebook(model, tensors, columns, prompts, false, Math.min(sampled, heads));
            System.out.printf("notebook, one forward per case: %.3f s for %d heads%n", perCase.seconds, Math.min(sampled, heads));

            BenchTable t = new BenchTable("algorithm", "seconds", "heads / s", "scan speed-up",
                    "max |Δ mean logprob| vs scan", "heads with other accuracy");
            t.row("batched scan with prefix reuse (HeadScan)", scanSeconds, heads / scanSeconds, "1.0×", "-", "-");
            double perCaseAll = perCase.seconds * heads / perCase.heads;
            t.row("notebook: copy, zero, one forward per case (" + perCase.heads + " heads timed, scaled ×"
                            + String.format("%.0f", (double) heads / perCase.heads) + ")", perCaseAll, heads / perCaseAll,
                    String.format("%.1f×", perCaseAll / scanSeconds), compareLogprob(scan, perCase),
                    mismatches(scan, perCase));
            t.row("notebook with all cases in one batch", batched.seconds, heads / batched.seconds,
                    String.format("%.1f×", batched.seconds / scanSeconds), compareLogprob(scan, batched),
                    mismatches(scan, batched));
            t.print();
            System.out.printf("load average after: %s; OMP_NUM_THREADS=%s%n", loadAverage(), System.getenv("OMP_NUM_THREADS"));
        }
    }

    /** Per head (NaN where not run): mean log-probability and accuracy over the cases; the loop's time for {@code heads} heads. */
    private record Baseline(double seconds, int heads, double[] meanLogprob, double[] accuracy) {
    }

    /**
     * The notebook's loop: for each head, a fresh copy of every weight with the head's slice of
     * the output projection zeroed, then full forwards over prompt + target.
     */
    private static Baseline notebook(LanguageModel model, Map<String, float[]> tensors, Map<String, Integer> columns,
                                     PromptSet prompts, boolean oneBatch, int sample) {
        ModelConfig c = model.config();
        HeadLayout layout = new HeadLayout(model.weights().architecture(), c);
        int heads = c.numLayers() * c.numHeads();
        double[] meanLogprob = new double[heads];
        double[] accuracy = new double[heads];
        java.util.Arrays.fill(meanLogprob, Double.NaN);
        java.util.Arrays.fill(accuracy, Double.NaN);
        List<int[]> full = new ArrayList<>();
        for (PromptSet.Case pc : prompts.cases()) {
            int[] f = new int[pc.prompt().length + pc.target().length];
            System.arraycopy(pc.prompt(), 0, f, 0, pc.prompt().length);
            System.arraycopy(pc.target(), 0, f, pc.prompt().length, pc.target().length);
            full.add(f);
        }
        long t0 = System.nanoTime();
        for (int k = 0; k < sample; k++) {
            int i = k * heads / sample;
            Head head = new Head(i / c.numHeads(), i % c.numHeads());
            Map<String, float[]> edited = new HashMap<>();
            for (TensorSlice s : layout.outputSlices(head.layer(), head.head())) {
                float[] v = tensors.get(s.tensor()).clone();
                int cols = columns.get(s.tensor());
                for (int j = 0; j < v.length; j++) {
                    long idx = s.axis() == 0 ? j / cols : j % cols;
                    if (idx >= s.start() && idx < s.end()) {
                        v[j] = 0f;
                    }
                }
                edited.put(s.tensor(), v);
            }
            double lpSum = 0;
            int correct = 0;
            try (NDManager m = NDManager.newBaseManager(Device.cpu());
                 Weights w = Weights.fromTensors(m, c, model.weights().architecture(),
                         n -> edited.containsKey(n) ? edited.get(n) : tensors.get(n).clone());
                 Transformer t = new Transformer(w)) {
                List<List<int[]>> batches = oneBatch ? List.of(full) : full.stream().map(List::of).toList();
                int row0 = 0;
                for (List<int[]> batch : batches) {
                    try (NDScope scope = new NDScope();
                         ForwardResult r = t.forward(ForwardRequest.tokens(batch).withAllLogits())) {
                        NDArray lsm = r.logits().logSoftmax(2);                                   // [B, S, V]
                        for (int b = 0; b < batch.size(); b++) {
                            PromptSet.Case pc = prompts.cases().get(row0 + b);
                            boolean ok = true;
                            for (int j = 0; j < pc.target().length; j++) {
                                float[] row = lsm.get(b, pc.prompt().length - 1 + j).toFloatArray();
                                lpSum += row[pc.target()[j]];
                                ok &= GreedyDecoder.argmax(row) == pc.target()[j];
                            }
                            correct += ok ? 1 : 0;
                        }
                    }
                    row0 += batch.size();
                }
            }
            meanLogprob[i] = lpSum / full.size();
            accuracy[i] = 100.0 * correct / full.size();
        }
        return new Baseline((System.nanoTime() - t0) / 1e9, sample, meanLogprob, accuracy);
    }

    private static String compareLogprob(HeadScanResult scan, Baseline b) {
        double worst = 0;
        for (int i = 0; i < b.meanLogprob.length; i++) {
            if (!Double.isNaN(b.meanLogprob[i])) {
                Head h = new Head(i / scan.heads(), i % scan.heads());
                worst = Math.max(worst, Math.abs(scan.effect(h).logprob() - b.meanLogprob[i]));
            }
        }
        return String.format("%.1e", worst);
    }

    private static int mismatches(HeadScanResult scan, Baseline b) {
        int n = 0;
        for (int i = 0; i < b.accuracy.length; i++) {
            if (!Double.isNaN(b.accuracy[i])) {
                Head h = new Head(i / scan.heads(), i % scan.heads());
                n += scan.effect(h).accuracy() == b.accuracy[i] ? 0 : 1;
            }
        }
        return n;
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
