package org.neurotome.eval;

import org.neurotome.NeurotomeException;

import java.util.Arrays;
import java.util.List;

/**
 * A model as the evaluation harness sees it: given a batch of cases, how it scores each case's
 * target, token by token, teacher-forced (docs/method.md A6: every answer token is a separate
 * next-token case conditioned on the earlier answer tokens).
 *
 * <p>Contract of an implementation over a causal language model:
 * <ol>
 *   <li>Tokenize {@code prompt} and {@code prompt + target} with the model's tokenizer, with the
 *       same special-token policy for both (a BOS token, when the model uses one, starts both).
 *       The target tokens are the tail of the second sequence after the first one; use
 *       {@link #targetTokens} to take them, which fails with BAD_INPUT when the prompt's tokens
 *       are not a prefix (a merge across the prompt/target boundary) or the tail is empty.</li>
 *   <li>Run one batched forward over the {@code prompt + target} sequences with logits at every
 *       position. Pad on the right with an attention mask (or otherwise keep each row's positions
 *       and attention exactly as in an unpadded run), so a case scores the same in any batch.</li>
 *   <li>For target token i at sequence position {@code p = |prompt tokens| + i}, read the logits
 *       at position {@code p - 1}: {@code logProb = log_softmax(logits)[token]} over the full
 *       vocabulary, in natural log, and {@code predicted = argmax(logits)} (lowest id on ties).</li>
 *   <li>Return one {@link CaseScore} per input case, in input order (reordering inside a batch,
 *       e.g. by length, is allowed if the output order is restored).</li>
 * </ol>
 * The harness calls {@link #score} with batches of at most the runner's batch size; an
 * implementation may split a batch further to bound memory. It must be deterministic: the same
 * cases give the same scores.
 */
@FunctionalInterface
public interface CaseScorer {

    /** One score per case of {@code batch}, in the same order. */
    List<CaseScore> score(List<EvalCase> batch);

    /**
     * Case {@code index} of a batch cannot be scored (its tokens do not fit the model, or the
     * tokenizer refuses it); the runner names the case's data set and line and rethrows the cause.
     */
    final class CaseRefused extends RuntimeException {
        private final int index;

        public CaseRefused(int index, NeurotomeException cause) {
            super(cause.getMessage(), cause, false, false);
            this.index = index;
        }

        /** The refused case's index in its batch. */
        public int index() {
            return index;
        }

        @Override
        public synchronized NeurotomeException getCause() {
            return (NeurotomeException) super.getCause();
        }
    }

    /**
     * The target token ids of {@code c}: the tail of {@code fullIds} (the tokens of
     * {@code prompt + target}) after {@code promptIds} (the tokens of {@code prompt}).
     */
    static int[] targetTokens(EvalCase c, int[] promptIds, int[] fullIds) {
        boolean prefix = promptIds.length <= fullIds.length
                && Arrays.equals(promptIds, 0, promptIds.length, fullIds, 0, promptIds.length);
        if (!prefix) {
            throw NeurotomeException.badInput("case '" + c.prompt() + "' → '" + c.target()
                    + "': the prompt's tokens " + Arrays.toString(promptIds) + " are not a prefix of the tokens "
                    + Arrays.toString(fullIds) + " of prompt + target; the tokenizer merges across the boundary,"
                    + " so start the target with a space or end the prompt at a token boundary");
        }
        if (fullIds.length == promptIds.length) {
            throw NeurotomeException.badInput("case '" + c.prompt() + "' → '" + c.target()
                    + "': the target adds no token to the prompt");
        }
        return Arrays.copyOfRange(fullIds, promptIds.length, fullIds.length);
    }
}
