package org.neurotome.model;

import java.util.Arrays;
import java.util.Set;

/**
 * Greedy decoding: append the argmax token (lowest id on ties, as {@code torch.argmax}) and
 * continue, as llama2.c's {@code run.c} does at temperature 0. With a {@link KvCache} (the
 * default) the prompt runs once and every later step runs only the new token against the
 * cached keys and values, as transformers' {@code generate} does with {@code use_cache=True};
 * without it each step recomputes the whole sequence. Both give the same ids.
 */
public final class GreedyDecoder {
    private GreedyDecoder() {
    }

    /**
     * Up to {@code maxNew} ids after {@code prompt}, with a key/value cache; stops after
     * emitting any id of {@code stopIds} (that id included).
     */
    public static int[] generate(Transformer model, int[] prompt, int maxNew, Set<Integer> stopIds) {
        return generate(model, prompt, maxNew, stopIds, true);
    }

    /** As {@link #generate(Transformer, int[], int, Set)}, recomputing every step when {@code kvCache} is false. */
    public static int[] generate(Transformer model, int[] prompt, int maxNew, Set<Integer> stopIds, boolean kvCache) {
        if (maxNew < 0) {
            throw new IllegalArgumentException("maxNew must be ≥ 0, got " + maxNew);
        }
        int[] seq = Arrays.copyOf(prompt, prompt.length + Math.min(maxNew, 1024));
        int n = prompt.length;
        try (KvCache cache = kvCache ? new KvCache(model) : null) {
            for (int step = 0; step < maxNew; step++) {
                int[] input = cache == null ? Arrays.copyOf(seq, n) : step == 0 ? prompt : new int[] {seq[n - 1]};
                ForwardRequest request = ForwardRequest.tokens(input);
                float[] logits;
                try (ForwardResult r = model.forward(cache == null ? request : request.withCache(cache))) {
                    logits = r.lastLogits(0);
                }
                int next = argmax(logits);
                if (n == seq.length) {
                    seq = Arrays.copyOf(seq, n + Math.min(Math.max(n, 16), maxNew - step));
                }
                seq[n++] = next;
                if (stopIds.contains(next)) {
                    break;
                }
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
