package org.neurotome.eval;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;

/**
 * The change of every metric from a baseline (docs/method.md A6: decreases reported both in points
 * and relative to the original): for each name in both maps, {@code name.delta} = candidate −
 * baseline and {@code name.rel_change} = (candidate − baseline) / |baseline|. The relative change
 * is left out where the baseline is 0, where it is undefined.
 */
public final class MetricDeltas {
    private MetricDeltas() {
    }

    /** The deltas, in the candidate's metric order. */
    public static SequencedMap<String, Double> deltas(Map<String, Double> candidate, Map<String, Double> baseline) {
        SequencedMap<String, Double> out = new LinkedHashMap<>();
        candidate.forEach((name, value) -> {
            Double base = baseline.get(name);
            if (base != null) {
                out.put(name + ".delta", value - base);
                if (base != 0.0) {
                    out.put(name + ".rel_change", (value - base) / Math.abs(base));
                }
            }
        });
        return out;
    }
}
