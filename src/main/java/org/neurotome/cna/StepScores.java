package org.neurotome.cna;

/**
 * The attribution of one scored position: the token scored, the model's own probability of
 * it there, the frozen norm the scores used, and the component scores.
 */
public record StepScores(int target, double logprob, FrozenNorm norm, ComponentScores scores) {
    public double prob() {
        return Math.exp(logprob);
    }
}
