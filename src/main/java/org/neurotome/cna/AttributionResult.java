package org.neurotome.cna;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;
import org.neurotome.arch.Neuron;

import java.util.ArrayList;
import java.util.List;

/**
 * The outcome of {@link Attribution#run}: each scored position's target, probability and
 * frozen norm (with its own component scores when they were kept), and the component scores
 * averaged over all positions, ranked on request. After a bounded run ({@link Scoring}) the
 * neurons and heads never scored are NaN, and rank last.
 */
public final class AttributionResult {
    /** An FFN neuron's mean log-probability increase and mean signed coefficient. */
    public record NeuronScore(Neuron neuron, double score, double coef) {
    }

    /** A head's mean log-probability increase. */
    public record HeadScore(Head head, double score) {
    }

    private final PromptSet prompts;
    private final List<StepScores> steps;
    private final ComponentScores mean;
    private final Scoring.Summary scored;

    AttributionResult(PromptSet prompts, List<StepScores> steps, ComponentScores mean, Scoring.Summary scored) {
        this.prompts = prompts;
        this.steps = List.copyOf(steps);
        this.mean = mean;
        this.scored = scored;
    }

    /**
     * The exhaustive attribution of {@code prompts} from its shards 0 … n−1
     * ({@link Attribution#runShard}), in order: their steps side by side and their passes' sums
     * added in pass order, as the unsharded run adds them, so the result is the unsharded one
     * bit for bit. Shards of other prompts or passes, missing or out of order are refused as bad
     * input.
     */
    public static AttributionResult merge(PromptSet prompts, List<AttributionShard> shards) {
        AttributionShard.checkCover(prompts, shards);
        ComponentScores.Sum sum = null;
        List<StepScores> steps = new ArrayList<>();
        for (AttributionShard s : shards) {
            for (ComponentScores.Sum pass : s.sums()) {
                if (sum == null) {
                    sum = pass.zero();
                }
                sum.add(pass);
            }
            steps.addAll(s.steps());
        }
        if (sum == null) {
            throw NeurotomeException.badInput("attribution shards of no step: nothing to average");
        }
        return new AttributionResult(prompts, steps, sum.mean(), Scoring.Summary.exhaustive(sum.neurons(),
                sum.heads()));
    }

    /** What was scored exactly: everything, or what the bounds left. */
    public Scoring.Summary scored() {
        return scored;
    }

    public PromptSet prompts() {
        return prompts;
    }

    /** One entry per step of {@link #prompts()}; {@link StepScores#scores()} is null unless steps were kept. */
    public List<StepScores> steps() {
        return steps;
    }

    /** Scores averaged over every step. */
    public ComponentScores mean() {
        return mean;
    }

    /** The {@code top} neurons by mean score ({@code top} ≤ 0: all), largest first. */
    public List<NeuronScore> neurons(int top) {
        return neurons(mean, top);
    }

    /** The {@code top} heads by mean score ({@code top} ≤ 0: all), largest first. */
    public List<HeadScore> heads(int top) {
        return heads(mean, top);
    }

    static List<NeuronScore> neurons(ComponentScores s, int top) {
        List<NeuronScore> out = new ArrayList<>();
        for (int[] i : Ranking.order(s.neuron(), top)) {
            int l = i[0];
            int k = i[1];
            out.add(new NeuronScore(new Neuron(l, k), s.neuron()[l][k], s.coef()[l][k]));
        }
        return out;
    }

    static List<HeadScore> heads(ComponentScores s, int top) {
        List<HeadScore> out = new ArrayList<>();
        for (int[] i : Ranking.order(s.head(), top)) {
            out.add(new HeadScore(new Head(i[0], i[1]), s.head()[i[0]][i[1]]));
        }
        return out;
    }
}
