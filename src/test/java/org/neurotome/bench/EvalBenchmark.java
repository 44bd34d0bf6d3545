package org.neurotome.bench;

import ai.djl.Device;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.eval.ModelCaseScorer;
import org.neurotome.model.LanguageModel;

import java.nio.file.Path;
import java.util.List;

/**
 * Eval throughput: cases per second of the arithmetic dataset scored on a fixture model,
 * batched (the harness's batch of 32, one padded forward per batch) against one case per
 * forward, and batches of 128, in the same run and JVM.
 * Usage: {@code scripts/bench EvalBenchmark [model] [dataset]}
 * (defaults {@code checkpoints/fixture-llama}, {@code eval/datasets/arithmetic.jsonl}).
 */
public final class EvalBenchmark {
    public static void main(String[] args) {
        Path model = Path.of(args.length > 0 ? args[0] : "checkpoints/fixture-llama");
        Path data = Path.of(args.length > 1 ? args[1] : "eval/datasets/arithmetic.jsonl");
        List<EvalCase> cases = EvalCaseFile.read(data);
        BenchTable table = new BenchTable("scoring", "cases", "seconds", "cases/s", "speed-up");
        try (LanguageModel lm = LanguageModel.open(model, Device.cpu())) {
            ModelCaseScorer scorer = new ModelCaseScorer(lm);
            scorer.score(cases.subList(0, 64)); // warm up
            double one = time(scorer, cases, 1);
            table.row("one case per forward", cases.size(), one, cases.size() / one, "1.00");
            for (int batch : new int[] {32, 128}) {
                double t = time(scorer, cases, batch);
                table.row("batches of " + batch, cases.size(), t, cases.size() / t, String.format("%.1f×", one / t));
            }
        }
        table.print();
    }

    private static double time(ModelCaseScorer scorer, List<EvalCase> cases, int batch) {
        long t0 = System.nanoTime();
        for (int i = 0; i < cases.size(); i += batch) {
            scorer.score(cases.subList(i, Math.min(cases.size(), i + batch)));
        }
        return (System.nanoTime() - t0) / 1e9;
    }
}
