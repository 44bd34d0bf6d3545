package org.neurotome.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * A minimal gate evaluator for tests: each gate is {@code metric op bound} with op {@code >=} or
 * {@code <=}; a name ending in {@code .delta} or {@code .rel_change} reads the change from the
 * baseline ({@link MetricDeltas}). A missing metric fails its gate, with a reason.
 */
record BoundGates(List<String> gates) implements GateEvaluator {

    @Override
    public List<GateResult> evaluate(SequencedMap<String, Double> metrics, SequencedMap<String, Double> baselineMetrics,
                                     SequencedMap<String, DiscordantPairs> paired) {
        Map<String, Double> deltas = MetricDeltas.deltas(metrics, baselineMetrics);
        List<GateResult> out = new ArrayList<>();
        for (String gate : gates) {
            // the metric name may hold spaces (professions): the bound and operator are the last two words
            int boundAt = gate.lastIndexOf(' ');
            int opAt = gate.lastIndexOf(' ', boundAt - 1);
            String name = gate.substring(0, opAt);
            String op = gate.substring(opAt + 1, boundAt);
            double bound = Double.parseDouble(gate.substring(boundAt + 1));
            Double value = metrics.containsKey(name) ? metrics.get(name) : deltas.get(name);
            boolean passed = value != null && (op.equals(">=") ? value >= bound : value <= bound);
            String metric = name.replaceFirst("\\.(delta|rel_change)$", "");
            out.add(new GateResult(gate, metric, op, bound, value, passed, value == null ? "metric '" + name + "' is missing" : null));
        }
        return out;
    }
}
