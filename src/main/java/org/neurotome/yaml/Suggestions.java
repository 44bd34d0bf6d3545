package org.neurotome.yaml;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/**
 * "Did you mean" for a misspelt key or value: the allowed word at the smallest edit
 * distance (case-insensitive; a swap of two neighbours counts as one edit), if it is close
 * enough to be a plausible typo, or the only allowed word the input is a prefix of.
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

    /**
     * Edit distance with adjacent transpositions (optimal string alignment): insertions,
     * deletions, substitutions and swaps of two neighbouring characters ({@code tpo} → {@code top}),
     * each costing one.
     */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int substitution = d[i - 1][j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                d[i][j] = Math.min(substitution, Math.min(d[i - 1][j], d[i][j - 1]) + 1);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
