package org.neurotome.eval;

/**
 * The discordant cells of a paired comparison of two checkpoints on the same cases, the input
 * of {@link McNemar}'s test.
 *
 * @param b cases the baseline gets right and the candidate gets wrong
 * @param c cases the baseline gets wrong and the candidate gets right
 */
public record DiscordantPairs(long b, long c) {
    public DiscordantPairs {
        if (b < 0 || c < 0) {
            throw new IllegalArgumentException("discordant counts must be >= 0; got b=" + b + ", c=" + c);
        }
    }
}
