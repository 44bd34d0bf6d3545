package org.neurotome.cna;

import org.neurotome.arch.Neuron;

import java.util.ArrayList;
import java.util.List;

/**
 * The outcome of a {@link Comparison}: both runs' scores per position (component scores
 * only when they were kept) and averaged over positions, and the neurons ranked by
 * {@code diff = score_a − score_b}, largest first, ties to the lower layer then neuron. After a
 * bounded run ({@link Scoring}) the neurons never scored are NaN, and rank last.
 */
public final class ComparisonResult {
    /**
     * One neuron of the ranking.
     *
     * @param diff   {@code scoreA − scoreB}
     * @param scoreA its log-probability increase in run A
     * @param scoreB the same in run B (with A's norm and target)
     * @param coefA  its signed coefficient in run A
     * @param coefB  its signed coefficient in run B
     */
    public record NeuronDifference(Neuron neuron, double diff, double scoreA, double scoreB, double coefA,
                                   double coefB) {
    }

    private final Comparison.Kind kind;
    private final Comparison.Side a;
    private final Comparison.Side b;
    private final List<StepScores> stepsA;
    private final List<StepScores> stepsB;
    private final ComponentScores meanA;
    private final ComponentScores meanB;
    private final Scoring.Summary scored;

    ComparisonResult(Comparison.Kind kind, Comparison.Side a, Comparison.Side b, List<StepScores> stepsA,
                     List<StepScores> stepsB, ComponentScores meanA, ComponentScores meanB, Scoring.Summary scored) {
        this.scored = scored;
        this.kind = kind;
        this.a = a;
        this.b = b;
        this.stepsA = List.copyOf(stepsA);
        this.stepsB = List.copyOf(stepsB);
        this.meanA = meanA;
        this.meanB = meanB;
    }

    /** What was scored exactly: every neuron, or what the bounds left (heads are not ranked: −1). */
    public Scoring.Summary scored() {
        return scored;
    }

    public Comparison.Kind kind() {
        return kind;
    }

    public Comparison.Side a() {
        return a;
    }

    public Comparison.Side b() {
        return b;
    }

    /** Run A per position: the target (A's own top-1 unless given), A's probability of it, A's norm. */
    public List<StepScores> stepsA() {
        return stepsA;
    }

    /** Run B per position: B's probability of A's target; its norm is A's. */
    public List<StepScores> stepsB() {
        return stepsB;
    }

    public ComponentScores meanA() {
        return meanA;
    }

    public ComponentScores meanB() {
        return meanB;
    }

    /** Mean over positions of run A's probability of the target. */
    public double probA() {
        return stepsA.stream().mapToDouble(StepScores::prob).average().orElseThrow();
    }

    /** Mean over positions of run B's probability of A's target. */
    public double probB() {
        return stepsB.stream().mapToDouble(StepScores::prob).average().orElseThrow();
    }

    /** The {@code top} neurons ({@code top} ≤ 0: all) by mean difference. */
    public List<NeuronDifference> ranked(int top) {
        return ranked(meanA, meanB, top);
    }

    /** The {@code top} neurons by difference at position {@code step}; needs kept steps. */
    public List<NeuronDifference> rankedAt(int step, int top) {
        ComponentScores sa = stepsA.get(step).scores();
        ComponentScores sb = stepsB.get(step).scores();
        if (sa == null || sb == null) {
            throw new IllegalStateException("per-position scores were not kept");
        }
        return ranked(sa, sb, top);
    }

    /** {@code score_a − score_b} per neuron, [layer][neuron]. */
    public float[][] diff() {
        return diff(meanA, meanB);
    }

    /**
     * The {@code k} top tokens of each listed neuron's value vector, signed by its coefficient
     * in run A (in run B where A's is 0), through run A's unembedding.
     */
    public int[][] topTokens(List<NeuronDifference> neurons, int k) {
        double[] coefs = neurons.stream().mapToDouble(n -> n.coefA() != 0 ? n.coefA() : n.coefB()).toArray();
        return a.attribution().projection().valueTopTokens(neurons.stream().map(NeuronDifference::neuron).toList(),
                coefs, k);
    }

    private static float[][] diff(ComponentScores sa, ComponentScores sb) {
        float[][] d = new float[sa.neuron().length][];
        for (int l = 0; l < d.length; l++) {
            d[l] = new float[sa.neuron()[l].length];
            for (int k = 0; k < d[l].length; k++) {
                d[l][k] = sa.neuron()[l][k] - sb.neuron()[l][k];
            }
        }
        return d;
    }

    private static List<NeuronDifference> ranked(ComponentScores sa, ComponentScores sb, int top) {
        float[][] d = diff(sa, sb);
        List<NeuronDifference> out = new ArrayList<>();
        for (int[] i : Ranking.order(d, top)) {
            int l = i[0];
            int k = i[1];
            out.add(new NeuronDifference(new Neuron(l, k), d[l][k], sa.neuron()[l][k], sb.neuron()[l][k],
                    sa.coef()[l][k], sb.coef()[l][k]));
        }
        return out;
    }
}
