package org.neurotome.bench;

import ai.djl.Device;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.eval.CaseScore;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.eval.ModelCaseScorer;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Eval scoring of a streamed model, layer-major against batch-major: the same cases (evenly
 * spaced over {@code eval/datasets/arithmetic.jsonl}) scored in one call (every batch of 32
 * through layer l before layer l + 1 is read: one pass over the weights) and in calls of 32
 * cases (each batch re-streams every layer), in the same JVM after a warm-up batch, batch-major
 * first, with the same scores. Usage:
 * {@code scripts/bench EvalStreamingBenchmark DIR [CASES] [BUDGET]}.
 */
public final class EvalStreamingBenchmark {
    private EvalStreamingBenchmark() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        String budget = args.length > 2 ? args[2] : "4g";
        List<EvalCase> all = EvalCaseFile.read(Path.of("eval/datasets/arithmetic.jsonl"));
        List<EvalCase> cases = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cases.add(all.get((int) ((long) i * all.size() / n)));
        }
        BenchTable table = new BenchTable("order", "cases", "passes over the weights", "GB of weights read", "seconds",
                "cases/s", "speed-up");
        try (LanguageModel m = LanguageModel.open(dir, Device.cpu(), MemoryBudget.parse(budget))) {
            if (!m.weights().streaming()) {
                throw new IllegalStateException("the model is not streamed under " + budget);
            }
            ModelCaseScorer scorer = new ModelCaseScorer(m);
            scorer.score(cases.subList(0, Math.min(n, 8)));
            long t0 = System.nanoTime();
            List<CaseScore> batchMajor = new ArrayList<>();
            for (int from = 0; from < n; from += ModelCaseScorer.FORWARD_ROWS) {
                batchMajor.addAll(scorer.score(cases.subList(from, Math.min(n, from + ModelCaseScorer.FORWARD_ROWS))));
            }
            double bm = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            List<CaseScore> layerMajor = scorer.score(cases);
            double lm = (System.nanoTime() - t0) / 1e9;
            if (!layerMajor.equals(batchMajor)) {
                throw new IllegalStateException("layer-major and batch-major scores differ");
            }
            int batches = (n + ModelCaseScorer.FORWARD_ROWS - 1) / ModelCaseScorer.FORWARD_ROWS;
            double gb = streamedBytes(dir) / 1e9;
            table.row("batch-major (each batch re-streams)", n, batches, batches * gb, bm, n / bm, 1.0);
            table.row("layer-major", n, 1, gb, lm, n / lm, bm / lm);
        }
        table.print();
        System.out.printf("peak RSS %.0f MiB%n", BenchTable.procStatusMiB("VmHWM"));
    }

    /** The stored bytes a pass reads: every tensor but the embedding table, which is gathered by rows. */
    private static long streamedBytes(Path dir) {
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            return ckpt.tensors().values().stream().filter(t -> !t.name().endsWith("embed_tokens.weight"))
                    .mapToLong(TensorInfo::byteLength).sum();
        }
    }
}
