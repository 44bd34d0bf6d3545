package org.neurotome.eval;

import java.util.List;
import java.util.SequencedMap;

/**
 * Decides the release gates of a run from its metrics (docs/method.md A6: absolute bounds, bounds on
 * the change from a baseline, and a paired significance test for accuracy changes). A suite's
 * gates plug in as {@code (m, b, p) -> gates.stream().map(g -> g.evaluate(m, b, p)).toList()}.
 */
@FunctionalInterface
public interface GateEvaluator {

    /**
     * One result per gate, in the suite's order.
     *
     * @param metrics         the candidate's metrics (flat dotted names)
     * @param baselineMetrics the baseline's metrics under the same names; empty without a baseline
     * @param paired          for every case-level accuracy metric (e.g. {@code arithmetic.accuracy},
     *                        {@code arithmetic.accuracy.op=+}, {@code factual.accuracy}), the
     *                        discordant counts of baseline and candidate on the same cases;
     *                        empty without a baseline
     */
    List<GateResult> evaluate(SequencedMap<String, Double> metrics, SequencedMap<String, Double> baselineMetrics,
                              SequencedMap<String, DiscordantPairs> paired);
}
