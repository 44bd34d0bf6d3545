package org.neurotome.cna;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The outcome of an {@link ExpertUsage}: per sparse layer and expert, over {@code tokens}
 * positions, how many select it, their mean routing weight and the REAP saliency (both 0 for
 * an expert never selected).
 */
public final class ExpertUsageResult {
    /**
     * One expert's usage.
     *
     * @param count      positions that select it
     * @param frequency  {@code count / tokens}
     * @param meanWeight mean routing weight over those positions
     * @param reap       mean of {@code routing_weight · ‖expert output‖₂} over those positions
     */
    public record ExpertStats(int layer, int expert, long count, double frequency, double meanWeight, double reap) {
    }

    private final PromptSet prompts;
    private final List<Integer> sparseLayers;
    private final long tokens;
    private final long[][] count;
    private final double[][] weightSum;
    private final double[][] reapSum;

    ExpertUsageResult(PromptSet prompts, List<Integer> sparseLayers, long tokens, long[][] count, double[][] weightSum,
                      double[][] reapSum) {
        this.prompts = prompts;
        this.sparseLayers = List.copyOf(sparseLayers);
        this.tokens = tokens;
        this.count = count;
        this.weightSum = weightSum;
        this.reapSum = reapSum;
    }

    public PromptSet prompts() {
        return prompts;
    }

    public List<Integer> sparseLayers() {
        return sparseLayers;
    }

    /** Positions counted. */
    public long tokens() {
        return tokens;
    }

    public int experts() {
        return count[0].length;
    }

    /** The usage of {@code expert} of sparse layer {@code layer}. */
    public ExpertStats stats(int layer, int expert) {
        int si = sparseLayers.indexOf(layer);
        if (si < 0) {
            throw new IllegalArgumentException("layer " + layer + " has no experts; sparse layers: " + sparseLayers);
        }
        long n = count[si][expert];
        return new ExpertStats(layer, expert, n, (double) n / tokens, n == 0 ? 0 : weightSum[si][expert] / n,
                n == 0 ? 0 : reapSum[si][expert] / n);
    }

    /** Every expert by REAP saliency, largest first; ties to the lower layer, then expert. */
    public List<ExpertStats> ranked() {
        List<ExpertStats> all = new ArrayList<>();
        for (int l : sparseLayers) {
            for (int e = 0; e < experts(); e++) {
                all.add(stats(l, e));
            }
        }
        all.sort(Comparator.comparingDouble((ExpertStats s) -> -s.reap()).thenComparingInt(ExpertStats::layer)
                .thenComparingInt(ExpertStats::expert));
        return all;
    }
}
