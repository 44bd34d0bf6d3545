package org.neurotome.eval;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;

/**
 * The metrics of one task on one model: the flat dotted-name values, the breakdown tables that
 * regroup them, and the per-case correctness with the case groups behind every case-level
 * accuracy metric, which is what a paired (McNemar) comparison with a baseline needs.
 *
 * @param values         metric name to value, headline metrics first
 * @param breakdowns     the per-label tables, in the order a report shows them
 * @param accuracyGroups accuracy metric name to the indices of the cases it averages
 * @param correct        per case (in task order): every target token is the top-1 prediction
 */
public record TaskMetrics(SequencedMap<String, Double> values, List<Breakdown> breakdowns,
                          SequencedMap<String, List<Integer>> accuracyGroups, List<Boolean> correct) {

    public TaskMetrics {
        values = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(values));
        breakdowns = List.copyOf(breakdowns);
        SequencedMap<String, List<Integer>> groups = new LinkedHashMap<>();
        accuracyGroups.forEach((k, v) -> groups.put(k, List.copyOf(v)));
        accuracyGroups = Collections.unmodifiableSequencedMap(groups);
        correct = List.copyOf(correct);
    }
}
