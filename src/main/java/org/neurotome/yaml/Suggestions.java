package org.neurotome.yaml;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/**
 * "Did you mean" for a misspelt key or value: the allowed word at the smallest Levenshtein
 * distance (case-insensitive), if it is close enough to be a plausible typo, or the only allowed
 * word the input is a prefix of.
 */
public final class Suggestions {
    private Suggestions() {
    }

    /** The closest allowed word to {@code input}, or empty when none is plausibly meant. */
    public static Optional<String> closest(String input, Collection<String> allowed) {
        String in = input.toLowerCase(Locale.ROOT);
        // a typo costs about one edit per three characters; one edit is always plausible
        int limit = Math.max(1, in.length() / 3);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String word : allowed) {
            int d = distance(in, word.toLowerCase(Locale.ROOT));
            if (d < bestDistance) {
                best = word;
                bestDistance = d;
            }
        }
        if (best != null && bestDistance <= limit) {
            return Optional.of(best);
        }
        if (in.length() >= 3) {
            var prefixed = allowed.stream().filter(w -> w.toLowerCase(Locale.ROOT).startsWith(in)).toList();
            if (prefixed.size() == 1) {
                return Optional.of(prefixed.getFirst());
            }
        }
        return Optional.empty();
    }

    /** Levenshtein distance: insertions, deletions and substitutions, each costing one. */
    static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
