package org.neurotome.eval;

/**
 * How a model scored one target token, teacher-forced: {@code logProb} is the natural-log
 * probability of token {@code id} given the prompt and the target tokens before it (log-softmax
 * over the whole vocabulary), and {@code predicted} is the model's arg-max token at that
 * position (the lowest id among equal maxima).
 */
public record TokenScore(int id, double logProb, int predicted) {

    public TokenScore {
        if (!(logProb <= 0.0)) {
            throw new IllegalArgumentException("log-probability of token " + id + " must be finite and <= 0, was " + logProb);
        }
    }

    /** Whether the target token is the model's top-1 prediction. */
    public boolean top1() {
        return predicted == id;
    }
}
