package org.neurotome.eval;

import java.util.List;

/**
 * The 2×2 table of a paired accuracy comparison: the same cases, scored correct or not by the
 * baseline and by the candidate. The discordant counts are what McNemar's test reads:
 * {@code b} = baseline right and candidate wrong, {@code c} = baseline wrong and candidate right.
 */
public record PairedCounts(int bothCorrect, int b, int c, int bothWrong) {

    public PairedCounts {
        if (bothCorrect < 0 || b < 0 || c < 0 || bothWrong < 0) {
            throw new IllegalArgumentException("negative count in " + bothCorrect + ", " + b + ", " + c + ", " + bothWrong);
        }
    }

    /** The table over the cases {@code group} (indices into both correctness lists). */
    public static PairedCounts of(List<Integer> group, List<Boolean> baselineCorrect, List<Boolean> candidateCorrect) {
        int both = 0;
        int b = 0;
        int c = 0;
        int neither = 0;
        for (int i : group) {
            boolean base = baselineCorrect.get(i);
            boolean cand = candidateCorrect.get(i);
            if (base && cand) {
                both++;
            } else if (base) {
                b++;
            } else if (cand) {
                c++;
            } else {
                neither++;
            }
        }
        return new PairedCounts(both, b, c, neither);
    }

    /** The discordant cells, which are all McNemar's test reads. */
    public DiscordantPairs discordant() {
        return new DiscordantPairs(b, c);
    }

    /** The number of paired cases. */
    public int n() {
        return bothCorrect + b + c + bothWrong;
    }
}
