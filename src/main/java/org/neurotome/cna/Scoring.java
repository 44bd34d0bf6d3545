package org.neurotome.cna;

import org.neurotome.arch.LayerRange;

import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * How an attribution or a comparison finds its ranked lists: by scoring every component
 * exactly ({@link #EXHAUSTIVE}), or by scoring only as many as bounds on the scores require to
 * know the exact top {@code top} ({@code docs/bounds.md}), among the components of
 * {@code layers} (null: every layer). Either way the lists are the same. A bounded search also
 * states what searches for the smaller tops {@code alsoFor} would have scored (a sweep cuts those
 * tops from this one's ranking).
 */
public record Scoring(int top, LayerRange layers, List<Integer> alsoFor) {
    /** Every neuron and head scored exactly. */
    public static final Scoring EXHAUSTIVE = new Scoring(0, null, List.of());

    public Scoring {
        alsoFor = alsoFor.stream().filter(t -> t >= 1 && t < top).distinct().sorted().toList();
    }

    /** The exact top {@code top} (≥ 1) within {@code layers} (null: all), found by bounds. */
    public static Scoring bounded(int top, LayerRange layers) {
        if (top < 1) {
            throw new IllegalArgumentException("a bounded search needs top ≥ 1, got " + top);
        }
        return new Scoring(top, layers, List.of());
    }

    /** {@link #EXHAUSTIVE} when {@code exhaustive} or {@code top} ≤ 0 (all entries), else bounded. */
    public static Scoring of(int top, LayerRange layers, boolean exhaustive) {
        return exhaustive || top <= 0 ? EXHAUSTIVE : bounded(top, layers);
    }

    public boolean exhaustive() {
        return top <= 0;
    }

    /** This scoring, stating too what bounded searches for the smaller of {@code tops} would score. */
    public Scoring alsoFor(List<Integer> tops) {
        return new Scoring(top, layers, tops);
    }

    /** Whether layer {@code l} is ranked. */
    boolean ranks(int l) {
        return layers == null || layers.contains(l);
    }

    /**
     * What was scored exactly: every component ({@code bounded} false), or how many neurons and
     * heads the bounds left to score, out of how many (heads −1 where none are ranked); and, by
     * top, what a bounded search for each of {@link #alsoFor} would have scored.
     */
    public record Summary(boolean bounded, long neurons, long neuronsTotal, long heads, long headsTotal,
                          SortedMap<Integer, Summary> forTop) {
        public Summary {
            forTop = new TreeMap<>(forTop);
        }

        Summary(boolean bounded, long neurons, long neuronsTotal, long heads, long headsTotal) {
            this(bounded, neurons, neuronsTotal, heads, headsTotal, new TreeMap<>());
        }

        static Summary exhaustive(long neurons, long heads) {
            return new Summary(false, neurons, neurons, heads, heads);
        }
    }
}
