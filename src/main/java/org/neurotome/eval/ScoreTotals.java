package org.neurotome.eval;

import java.util.List;

/**
 * Sums over scored cases, in case order: how many cases were right as a whole (every target
 * token the top-1 prediction), how many target tokens there were and how many were top-1, and
 * the summed log-probability of the targets (docs/method.md A6).
 */
public record ScoreTotals(int cases, int correct, int tokens, int top1, double logProb) {

    public static ScoreTotals of(List<CaseScore> scores) {
        int correct = 0;
        int tokens = 0;
        int top1 = 0;
        double logProb = 0;
        for (CaseScore s : scores) {
            correct += s.correct() ? 1 : 0;
            tokens += s.tokens().size();
            top1 += s.top1Count();
            logProb += s.logProb();
        }
        return new ScoreTotals(scores.size(), correct, tokens, top1, logProb);
    }

    /** Cases right as a whole, as a share of the cases. */
    public double accuracy() {
        return (double) correct / cases;
    }

    /** Target tokens that were the top-1 prediction, as a share of the tokens. */
    public double tokenAccuracy() {
        return (double) top1 / tokens;
    }
}
