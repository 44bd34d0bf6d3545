package org.neurotome.eval;

import java.util.List;

/**
 * How a model scored the target of one case: one {@link TokenScore} per target token, in
 * order. The case is correct when every target token is the top-1 prediction (greedy decoding
 * would produce the whole target), and the target's log-probability is the sum over its tokens
 * ({@code log p(target | prompt)} by the chain rule).
 */
public record CaseScore(List<TokenScore> tokens) {

    public CaseScore {
        tokens = List.copyOf(tokens);
        if (tokens.isEmpty()) {
            throw new IllegalArgumentException("a case score needs at least one target token");
        }
    }

    /** {@code log p(target | prompt)}: the sum of the target tokens' log-probabilities. */
    public double logProb() {
        double sum = 0;
        for (TokenScore t : tokens) {
            sum += t.logProb();
        }
        return sum;
    }

    /** Whether every target token is the top-1 prediction. */
    public boolean correct() {
        return tokens.stream().allMatch(TokenScore::top1);
    }

    /** How many target tokens are the top-1 prediction. */
    public int top1Count() {
        return (int) tokens.stream().filter(TokenScore::top1).count();
    }
}
