package org.neurotome.cna;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The outcome of an {@link ExpertAttribution}: per scored step, the target, its
 * log-probability, and per sparse layer the log-probability of the residual after attention
 * and each expert's increase on it (the shared expert's where there is one); averaged over the
 * steps, the experts ranked by mean increase.
 *
 * @param sparseLayers the layers with experts, in order
 * @param experts      experts per sparse layer
 * @param steps        every step, in the order of {@link PromptSet#steps()}
 */
public record ExpertAttributionResult(PromptSet prompts, List<Integer> sparseLayers, int experts,
                                      List<StepExperts> steps) {

    /**
     * One step's scores.
     *
     * @param before   per sparse layer, {@code log p(target | bs(r))}
     * @param increase per sparse layer and expert, the log-probability increase (0: not routed)
     * @param shared   per sparse layer, the shared expert's increase, or null without one
     */
    public record StepExperts(int target, float logprob, float[] before, float[][] increase, float[] shared) {
    }

    /** An expert's mean increase over the steps. */
    public record ExpertScore(int layer, int expert, double score) {
    }

    public ExpertAttributionResult {
        sparseLayers = List.copyOf(sparseLayers);
        steps = List.copyOf(steps);
    }

    /** Whether the sparse layers have a shared expert. */
    public boolean hasShared() {
        return steps.getFirst().shared() != null;
    }

    /** The mean increase of {@code expert} of sparse layer index {@code si} over the steps. */
    public double score(int si, int expert) {
        return steps.stream().mapToDouble(s -> s.increase()[si][expert]).average().orElseThrow();
    }

    /** The mean shared-expert increase of sparse layer index {@code si} (NaN without one). */
    public double sharedScore(int si) {
        return hasShared() ? steps.stream().mapToDouble(s -> s.shared()[si]).average().orElseThrow() : Double.NaN;
    }

    /** The mean log-probability of the target on the residual after attention of sparse layer index {@code si}. */
    public double before(int si) {
        return steps.stream().mapToDouble(s -> s.before()[si]).average().orElseThrow();
    }

    /** Mean probability of the targets over the steps. */
    public double baseProb() {
        return steps.stream().mapToDouble(s -> Math.exp(s.logprob())).average().orElseThrow();
    }

    /** Mean log-probability of the targets over the steps. */
    public double baseLogprob() {
        return steps.stream().mapToDouble(StepExperts::logprob).average().orElseThrow();
    }

    /** The token scored at each step. */
    public int[] targets() {
        return steps.stream().mapToInt(StepExperts::target).toArray();
    }

    /** Every expert by mean increase, largest first; ties to the lower layer, then expert. */
    public List<ExpertScore> ranked() {
        List<ExpertScore> all = new ArrayList<>();
        for (int si = 0; si < sparseLayers.size(); si++) {
            for (int e = 0; e < experts; e++) {
                all.add(new ExpertScore(sparseLayers.get(si), e, score(si, e)));
            }
        }
        all.sort(Comparator.comparingDouble((ExpertScore x) -> -x.score()).thenComparingInt(ExpertScore::layer)
                .thenComparingInt(ExpertScore::expert));
        return all;
    }
}
