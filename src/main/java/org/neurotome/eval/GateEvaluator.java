package org.neurotome.eval;

import java.util.List;
import java.util.SequencedMap;

/**
 * Decides the release gates of a run from its metrics (METHOD.md A6: absolute bounds, bounds on
 * the change from a baseline, and paired significance for accuracy changes).
 */
@FunctionalInterface
public interface GateEvaluator {

    /**
     * One result per gate, in the suite's order.
     *
     * @param metrics         the candidate's metrics (flat dotted names)
     * @param baselineMetrics the baseline's metrics under the same names; empty without a baseline
     * @param paired          for every case-level accuracy metric, the paired 2×2 table of
     *                        baseline and candidate correctness; empty without a baseline
     */
    List<GateResult> evaluate(SequencedMap<String, Double> metrics, SequencedMap<String, Double> baselineMetrics,
                              SequencedMap<String, PairedCounts> paired);
}
