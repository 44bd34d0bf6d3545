package org.neurotome.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.yaml.SchemaViolation;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The recipe's optional {@code sweep} block: the grid {@code neurotome sweep} runs when no
 * {@code --grid} replaces it, and the objective that picks the best variant. {@code apply}
 * ignores it: the recipe as written is one variant. Schema in {@code docs/recipes.md}.
 *
 * @param grid      dotted recipe key (as {@code --set} takes it) → the values to try, in order
 * @param objective the metric to improve; null for the default (the value of the suite's
 *                  first gate, in the direction that gate asks for)
 */
public record Sweep(Map<String, List<JsonNode>> grid, Objective objective) {
    public Sweep {
        grid = grid == null ? Map.of() : new LinkedHashMap<>(grid);
        for (Map.Entry<String, List<JsonNode>> axis : grid.entrySet()) {
            if (axis.getValue() == null || axis.getValue().isEmpty()) {
                throw SchemaViolation.of("empty list").at("grid", axis.getKey()).allowed("one or more values to try");
            }
        }
    }

    /**
     * What the sweep improves: a metric of the eval report, or its change from the baseline
     * ({@code gender.bias_gap.rel_change}, {@code language.perplexity.delta}).
     *
     * @param metric the dotted name in the report's metrics or comparison
     * @param goal   whether smaller or larger is better
     */
    public record Objective(String metric, Goal goal) {
        public Objective {
            if (metric == null || metric.isBlank()) {
                throw SchemaViolation.missingKey("metric", "a metric or change name, e.g. gender.bias_gap.rel_change");
            }
            if (goal == null) {
                throw SchemaViolation.missingKey("goal", "min or max");
            }
        }
    }

    /** The direction of an objective. */
    public enum Goal {
        @JsonProperty("min") MIN,
        @JsonProperty("max") MAX
    }
}
