package org.neurotome.bench;

import ai.djl.Device;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.cna.Attribution;
import org.neurotome.cna.AttributionResult;
import org.neurotome.cna.PromptSet;
import org.neurotome.cna.RandomCheckpoint;
import org.neurotome.cna.Scoring;
import org.neurotome.cna.StepScores;
import org.neurotome.cna.VocabularyProjection;
import org.neurotome.model.LanguageModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Log-probability-increase attribution of every FFN neuron (docs/method.md A2) through the cached
 * value projections against one vocabulary projection per neuron (the reference code's
 * formula), on the same checkpoint and prompts, in one run; the neuron scores of the two
 * must agree to 1e-5. The value-projection path is timed twice: with an empty cache (its
 * first call projects every layer's value vectors) and again with the cache filled.
 *
 * <p>Usage: {@code scripts/bench AttributionBenchmark [MODEL_DIR [PROMPTS]]}; without a
 * directory an untrained Llama with a realistic vocabulary (4 layers × 8 heads of 32, FFN 688,
 * V 32,000) is generated under {@code bench-data/cna/}; prompts are random ids (seed 7), 8 by
 * default.
 */
public final class AttributionBenchmark {
    private AttributionBenchmark() {
    }

    public static void main(String[] args) {
        Path dir = args.length > 0 ? Path.of(args[0]) : Path.of("bench-data/cna/llama-v32k");
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        if (args.length == 0 && !Files.exists(dir.resolve(Checkpoint.CONFIG))) {
            RandomCheckpoint.writeWeights(dir, RandomCheckpoint.llama(4, 8, 32, 688, 32000), 2024, 0.3);
        }
        System.out.printf("machine: %d cores, load average before: %s%n", Runtime.getRuntime().availableProcessors(),
                HeadScanBenchmark.loadAverage());
        try (LanguageModel model = LanguageModel.open(dir, Device.cpu())) {
            ModelConfig c = model.config();
            Random random = new Random(7);
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int[] ids = new int[8 + random.nextInt(8)];
                for (int j = 0; j < ids.length; j++) {
                    ids[j] = random.nextInt(c.vocabSize());
                }
                prompts.add(ids);
            }
            PromptSet set = PromptSet.ofIds(prompts);
            long neurons = (long) c.numLayers() * c.ffnSize() * count;
            System.out.printf("model: %s (%d layers, D %d, FFN %d, V %d); %d prompts, %d neuron scores%n", dir,
                    c.numLayers(), c.hiddenSize(), c.ffnSize(), c.vocabSize(), count, neurons);
            Attribution.Options fast = Attribution.Options.defaults();
            Attribution.Options direct = fast.withNeuronPath(Attribution.NeuronPath.PER_NEURON);
            try (VocabularyProjection warm = new VocabularyProjection(model.weights(), 0)) {
                PromptSet one = PromptSet.ofIds(List.of(prompts.getFirst()));
                new Attribution(model, warm, fast).run(one, false, Scoring.EXHAUSTIVE);
                new Attribution(model, warm, direct).run(one, false, Scoring.EXHAUSTIVE);
            }
            try (VocabularyProjection p = new VocabularyProjection(model.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
                long t0 = System.nanoTime();
                AttributionResult cold = new Attribution(model, p, fast).run(set, true, Scoring.EXHAUSTIVE);
                double coldSeconds = (System.nanoTime() - t0) / 1e9;
                t0 = System.nanoTime();
                AttributionResult cached = new Attribution(model, p, fast).run(set, true, Scoring.EXHAUSTIVE);
                double cachedSeconds = (System.nanoTime() - t0) / 1e9;
                t0 = System.nanoTime();
                AttributionResult reference = new Attribution(model, p, direct).run(set, true, Scoring.EXHAUSTIVE);
                double directSeconds = (System.nanoTime() - t0) / 1e9;

                BenchTable t = new BenchTable("neuron path", "seconds", "neurons / s", "speed-up vs one projection per neuron",
                        "max |Δ score| vs one projection per neuron");
                t.row("one vocabulary projection per neuron", directSeconds, neurons / directSeconds, "1.0×", "-");
                t.row("value projections, empty cache", coldSeconds, neurons / coldSeconds,
                        String.format("%.1f×", directSeconds / coldSeconds), String.format("%.1e", maxDiff(cold, reference)));
                t.row("value projections, cached", cachedSeconds, neurons / cachedSeconds,
                        String.format("%.1f×", directSeconds / cachedSeconds), String.format("%.1e", maxDiff(cached, reference)));
                t.print();
            }
            System.out.printf("load average after: %s; OMP_NUM_THREADS=%s%n", HeadScanBenchmark.loadAverage(),
                    System.getenv("OMP_NUM_THREADS"));
        }
    }

    private static double maxDiff(AttributionResult a, AttributionResult b) {
        double worst = 0;
        for (int s = 0; s < a.steps().size(); s++) {
            StepScores x = a.steps().get(s);
            StepScores y = b.steps().get(s);
            for (int l = 0; l < x.scores().neuron().length; l++) {
                for (int k = 0; k < x.scores().neuron()[l].length; k++) {
                    worst = Math.max(worst, Math.abs(x.scores().neuron()[l][k] - y.scores().neuron()[l][k]));
                }
            }
        }
        return worst;
    }
}
