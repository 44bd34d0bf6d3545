package org.neurotome.cna;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The outcome of an {@link ExpertScan}: for each step the token scored and its log-probability
 * and top-1 hit, unablated and with each expert of each sparse layer removed from the routing,
 * summarised per expert over the cases as {@link HeadScanResult} summarises heads: a case's
 * probability is the product of its steps' (teacher-forced) probabilities, and it is correct
 * when every step's top-1 is its target; accuracies in percent, drops in percentage points.
 */
public final class ExpertScanResult extends AblationScanResult {
    /**
     * What removing one expert does, averaged over the cases.
     *
     * @param layer        the sparse layer
     * @param expert       the expert removed from its routing
     * @param prob         mean probability of the target
     * @param logprob      mean log-probability of the target (summed over its tokens)
     * @param drop         unablated mean probability minus {@code prob}
     * @param logprobDrop  unablated mean log-probability minus {@code logprob}
     * @param accuracy     percent of cases still correct
     * @param accuracyDrop unablated accuracy minus {@code accuracy}, in points
     */
    public record ExpertEffect(int layer, int expert, double prob, double logprob, double drop, double logprobDrop,
                               double accuracy, double accuracyDrop) implements Effect {
    }

    private final List<Integer> sparseLayers;

    ExpertScanResult(PromptSet prompts, List<Integer> sparseLayers, int[] target, float[] baseLogprob,
                     boolean[] baseTop1, float[][][] logprob, boolean[][][] top1) {
        super(prompts, target, baseLogprob, baseTop1, logprob, top1);
        this.sparseLayers = List.copyOf(sparseLayers);
    }

    /** The layers with experts, in order. */
    public List<Integer> sparseLayers() {
        return sparseLayers;
    }

    /** Experts per sparse layer. */
    public int experts() {
        return logprob[0].length;
    }

    /** Log-probability of step {@code step}'s target with {@code expert} of sparse layer {@code layer} removed. */
    public float stepLogprob(int layer, int expert, int step) {
        return logprob[index(layer)][expert][step];
    }

    /** The effect of removing {@code expert} from the routing of sparse layer {@code layer}. */
    public ExpertEffect effect(int layer, int expert) {
        int si = index(layer);
        float[] lp = logprob[si][expert];
        double prob = caseSteps.meanProb(lp);
        double logp = caseSteps.meanLogprob(lp);
        double acc = caseSteps.accuracy(top1[si][expert]);
        return new ExpertEffect(layer, expert, prob, logp, baseProb() - prob, baseLogprob() - logp, acc,
                baseAccuracy() - acc);
    }

    /**
     * Every expert, most harmful removal first: by probability drop for a single case, by
     * accuracy drop (then probability drop) over several; ties to the lower layer, then expert.
     */
    public List<ExpertEffect> ranked() {
        List<ExpertEffect> all = new ArrayList<>();
        for (int l : sparseLayers) {
            for (int e = 0; e < experts(); e++) {
                all.add(effect(l, e));
            }
        }
        Comparator<ExpertEffect> order = singleCase()
                ? Comparator.comparingDouble(e -> -e.drop())
                : Comparator.<ExpertEffect>comparingDouble(e -> -e.accuracyDrop()).thenComparingDouble(e -> -e.drop());
        all.sort(order.thenComparingInt(ExpertEffect::layer).thenComparingInt(ExpertEffect::expert));
        return all;
    }

    /** The ranking value of every expert, [sparse layer index][expert]. */
    public double[][] rankingTable() {
        double[][] t = new double[sparseLayers.size()][experts()];
        for (int si = 0; si < t.length; si++) {
            for (int e = 0; e < experts(); e++) {
                ExpertEffect x = effect(sparseLayers.get(si), e);
                t[si][e] = singleCase() ? x.drop() : x.accuracyDrop();
            }
        }
        return t;
    }

    private int index(int layer) {
        int si = sparseLayers.indexOf(layer);
        if (si < 0) {
            throw new IllegalArgumentException("layer " + layer + " has no experts; sparse layers: " + sparseLayers);
        }
        return si;
    }

}
