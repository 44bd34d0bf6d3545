package org.neurotome.model;

import java.util.Arrays;
import java.util.Set;

/**
 * Greedy decoding: append the argmax token (lowest id on ties, as {@code torch.argmax})
 * and run again, as llama2.c's {@code run.c} does at temperature 0. Each step recomputes
 * the whole sequence.
 */
public final class GreedyDecoder {
    private GreedyDecoder() {
    }

    /**
     * Up to {@code maxNew} ids after {@code prompt}; stops after emitting any id of
     * {@code stopIds} (that id included).
     */
    public static int[] generate(Transformer model, int[] prompt, int maxNew, Set<Integer> stopIds) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + maxNew);
        int n = prompt.length;
        for (int step = 0; step < maxNew; step++) {
            float[] logits;
            try (ForwardResult r = model.forward(ForwardRequest.tokens(Arrays.copyOf(seq, n)))) {
                logits = r.lastLogits(0);
            }
            int next = argmax(logits);
            seq[n++] = next;
            if (stopIds.contains(next)) {
                break;
            }
        }
        return Arrays.copyOfRange(seq, prompt.length, n);
    }

    /** Index of the largest value, the first one on ties. */
    public static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
