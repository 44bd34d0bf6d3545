package org.neurotome.cna;

import org.neurotome.arch.LayerRange;

/**
 * How an attribution or a comparison finds its ranked lists: by scoring every component
 * exactly ({@link #EXHAUSTIVE}), or by scoring only as many as bounds on the scores require to
 * know the exact top {@code top} ({@code docs/bounds.md}), among the components of
 * {@code layers} (null: every layer). Either way the lists are the same.
 */
public record Scoring(int top, LayerRange layers) {
    /** Every neuron and head scored exactly. */
    public static final Scoring EXHAUSTIVE = new Scoring(0, null);

    /** The exact top {@code top} (≥ 1) within {@code layers} (null: all), found by bounds. */
    public static Scoring bounded(int top, LayerRange layers) {
        if (top < 1) {
            throw new IllegalArgumentException("a bounded search needs top ≥ 1, got " + top);
        }
        return new Scoring(top, layers);
    }

    /** {@link #EXHAUSTIVE} when {@code exhaustive} or {@code top} ≤ 0 (all entries), else bounded. */
    public static Scoring of(int top, LayerRange layers, boolean exhaustive) {
        return exhaustive || top <= 0 ? EXHAUSTIVE : bounded(top, layers);
    }

    public boolean exhaustive() {
        return top <= 0;
    }

    /** Whether layer {@code l} is ranked. */
    boolean ranks(int l) {
        return layers == null || layers.contains(l);
    }

    /**
     * What was scored exactly: every component ({@code bounded} false), or how many neurons and
     * heads the bounds left to score, out of how many (heads −1 where none are ranked).
     */
    public record Summary(boolean bounded, long neurons, long neuronsTotal, long heads, long headsTotal) {
        static Summary exhaustive(long neurons, long heads) {
            return new Summary(false, neurons, neurons, heads, heads);
        }
    }
}
