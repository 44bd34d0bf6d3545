package org.neurotome.bench;

import ai.djl.Device;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.model.GreedyDecoder;
import org.neurotome.model.LanguageModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/**
 * Greedy decoding with and without the key/value cache on a random GPT-2-small-shaped
 * checkpoint (the one {@code scripts/bench-forward.sh} writes, generated here when missing):
 * {@code N} new tokens after an 8-token prompt, rounds alternating the two, tokens per second
 * of each and their ratio; the ids must be the same. Usage:
 * {@code scripts/bench KvCacheBenchmark [DIR] [NEW] [ROUNDS]}.
 */
public final class KvCacheBenchmark {
    private KvCacheBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "bench-data");
        int fresh = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        ModelConfig c = ForwardBenchmark.shapes().getFirst();
        Path model = dir.resolve(ForwardBenchmark.name(c));
        if (!Files.exists(model.resolve(Checkpoint.CONFIG))) {
            ForwardBenchmark.writeCheckpoint(c, model);
        }
        int[] prompt = ForwardBenchmark.batch(1, 8, c.vocabSize()).getFirst();
        BenchTable table = new BenchTable("round", "new tokens", "with KV cache tok/s", "without tok/s", "ratio");
        double bestWith = 0;
        double bestWithout = 0;
        try (LanguageModel m = LanguageModel.open(model, Device.cpu())) {
            for (int r = 1; r <= rounds; r++) {
                long t0 = System.nanoTime();
                int[] cached = GreedyDecoder.generate(m.transformer(), prompt, fresh, Set.of(), true);
                double with = fresh / ((System.nanoTime() - t0) / 1e9);
                t0 = System.nanoTime();
                int[] full = GreedyDecoder.generate(m.transformer(), prompt, fresh, Set.of(), false);
                double without = fresh / ((System.nanoTime() - t0) / 1e9);
                if (!Arrays.equals(cached, full)) {
                    throw new IllegalStateException("cached and uncached decoding gave different ids");
                }
                bestWith = Math.max(bestWith, with);
                bestWithout = Math.max(bestWithout, without);
                table.row(r, fresh, with, without, with / without);
            }
        }
        table.row("best", fresh, bestWith, bestWithout, bestWith / bestWithout);
        table.print();
    }
}
