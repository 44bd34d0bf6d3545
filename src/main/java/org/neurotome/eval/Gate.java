package org.neurotome.eval;

import org.neurotome.yaml.NodeDeserializer;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import org.neurotome.yaml.SchemaViolation;

import java.util.Locale;
import java.util.Map;

/**
 * A release gate: a condition on the eval metrics that must hold for a candidate checkpoint to
 * ship (docs/method.md A6, "Gates"). Written in a suite as one string:
 *
 * <pre>
 * arithmetic.accuracy &gt;= 0.9                 absolute bound on a metric
 * arithmetic.accuracy.delta &gt;= -0.01         candidate − baseline
 * gender.bias_gap.rel_change &lt;= -0.30        (candidate − baseline) / |baseline|
 * arithmetic.accuracy not_worse p=0.05       McNemar on paired cases: not significantly worse
 * </pre>
 *
 * The metric is a dotted name from the report's flat metric map: a task id, the metric, and
 * optional breakdowns ({@code arithmetic.accuracy.op=+}). Comparisons are {@code >= <= > <}.
 * {@code not_worse} fails only when the candidate loses more paired cases than it gains
 * (b &gt; c) and McNemar's two-sided p-value is below p (default 0.05).
 */
@JsonDeserialize(using = Gate.Deserializer.class)
public sealed interface Gate {
    String NOT_WORSE = "not_worse";
    double DEFAULT_ALPHA = 0.05;
    String SYNTAX = "'<task>.<metric>[.delta|.rel_change] >= <number>' (or <=, >, <),"
            + " or '<task>.<metric> not_worse [p=0.05]'";

    /** The metric the gate reads, without a derived suffix: {@code arithmetic.accuracy}. */
    String metric();

    /** The task whose metric this is: the first segment of {@link #metric()}. */
    default String task() {
        return metric().substring(0, metric().indexOf('.'));
    }

    /**
     * Judges a candidate.
     *
     * @param metrics  the candidate's metrics by dotted name
     * @param baseline the baseline's metrics (empty or null when there is no baseline run)
     * @param paired   discordant counts per metric, for {@code not_worse} gates (empty or null
     *                 when there is no baseline run)
     */
    GateResult evaluate(Map<String, Double> metrics, Map<String, Double> baseline,
                        Map<String, DiscordantPairs> paired);

    /** Judges a candidate on metrics alone ({@code not_worse} gates then fail: no paired counts). */
    default GateResult evaluate(Map<String, Double> metrics, Map<String, Double> baseline) {
        return evaluate(metrics, baseline, Map.of());
    }

    /**
     * The quantity the gate judges, as the report's metrics and comparison name it
     * ({@code gender.bias_gap.rel_change}; a {@code not_worse} gate's metric's {@code .delta}),
     * and whether a smaller value is the better one: how a sweep ranks its variants by this gate.
     */
    String quantity();

    /** Whether a smaller {@link #quantity} is better ({@code <=}, {@code <}). */
    boolean smallerIsBetter();

    /** Parses a gate expression; a malformed one is a {@link SchemaViolation}. */
    static Gate parse(String expression) {
        return GateSyntax.parse(expression);
    }

    /** How a threshold gate derives its value from the candidate's and baseline's metric. */
    enum Change {
        /** The candidate's value itself. */
        VALUE(""),
        /** candidate − baseline. */
        DELTA(".delta"),
        /** (candidate − baseline) / |baseline|. */
        REL_CHANGE(".rel_change");

        private final String suffix;

        Change(String suffix) {
            this.suffix = suffix;
        }

        public String suffix() {
            return suffix;
        }

        /** The change a written metric asks for, by its suffix. */
        static Change of(String writtenMetric) {
            for (Change c : values()) {
                if (c != VALUE && writtenMetric.endsWith(c.suffix)) {
                    return c;
                }
            }
            return VALUE;
        }
    }

    /** A comparison of a value against a bound. */
    enum Relation {
        AT_LEAST(">="), AT_MOST("<="), ABOVE(">"), BELOW("<");

        private final String symbol;

        Relation(String symbol) {
            this.symbol = symbol;
        }

        public String symbol() {
            return symbol;
        }

        public boolean holds(double value, double bound) {
            return switch (this) {
                case AT_LEAST -> value >= bound;
                case AT_MOST -> value <= bound;
                case ABOVE -> value > bound;
                case BELOW -> value < bound;
            };
        }
    }

    /**
     * {@code metric[.delta|.rel_change] <relation> bound}.
     *
     * @param metric the metric read from the results, without the derived suffix
     */
    record Threshold(String metric, Change change, Relation relation, double bound) implements Gate {
        @Override
        public GateResult evaluate(Map<String, Double> metrics, Map<String, Double> baseline,
                                   Map<String, DiscordantPairs> paired) {
            Double candidate = metrics.get(metric);
            if (candidate == null) {
                return failed(null, "metric '" + metric + "' is missing from the candidate's results");
            }
            double value = candidate;
            if (change != Change.VALUE) {
                Double base = baseline == null ? null : baseline.get(metric);
                if (base == null) {
                    return failed(null, baseline == null || baseline.isEmpty()
                            ? "there is no baseline run (a " + change.suffix.substring(1) + " gate needs one: --baseline)"
                            : "metric '" + metric + "' is missing from the baseline's results");
                }
                if (change == Change.REL_CHANGE && base == 0.0) {
                    return failed(null, "the baseline's '" + metric + "' is 0; a relative change is undefined");
                }
                value = change == Change.DELTA ? candidate - base : (candidate - base) / Math.abs(base);
            }
            if (Double.isNaN(value)) {
                return failed(value, "the value of '" + metric + "' is NaN");
            }
            return new GateResult(toString(), metric, relation.symbol, bound, value, relation.holds(value, bound), null);
        }

        private GateResult failed(Double value, String reason) {
            return new GateResult(toString(), metric, relation.symbol, bound, value, false, reason);
        }

        @Override
        public String quantity() {
            return metric + change.suffix;
        }

        @Override
        public boolean smallerIsBetter() {
            return relation == Relation.AT_MOST || relation == Relation.BELOW;
        }

        @Override
        public String toString() {
            return metric + change.suffix + " " + relation.symbol + " " + GateSyntax.plain(bound);
        }
    }

    /**
     * {@code metric not_worse p=alpha}: McNemar's test on the paired cases behind the metric.
     *
     * @param alpha the significance level below which a loss counts as real
     */
    record NotWorse(String metric, double alpha) implements Gate {
        @Override
        public GateResult evaluate(Map<String, Double> metrics, Map<String, Double> baseline,
                                   Map<String, DiscordantPairs> paired) {
            DiscordantPairs pairs = paired == null ? null : paired.get(metric);
            if (pairs == null) {
                boolean baselineRan = baseline != null && !baseline.isEmpty();
                return new GateResult(toString(), metric, NOT_WORSE, alpha, null, false, !baselineRan
                        ? "there is no baseline run (a not_worse gate needs one: --baseline)"
                        : "'" + metric + "' has no paired per-case results: not_worse compares case-level accuracies;"
                        + " paired here: " + (paired == null || paired.isEmpty() ? "none"
                        : String.join(", ", new java.util.TreeSet<>(paired.keySet()))));
            }
            double p = McNemar.pValue(pairs.b(), pairs.c());
            boolean worse = pairs.b() > pairs.c() && p < alpha;
            String reason = String.format(Locale.ROOT,
                    "b=%d (baseline right, candidate wrong), c=%d (baseline wrong, candidate right), "
                            + "McNemar %s p=%.4g: %s",
                    pairs.b(), pairs.c(), McNemar.method(pairs.b(), pairs.c()), p,
                    worse ? "significantly worse" : "not significantly worse");
            return new GateResult(toString(), metric, NOT_WORSE, alpha, p, !worse, reason);
        }

        @Override
        public String quantity() {
            return metric + Change.DELTA.suffix;
        }

        @Override
        public boolean smallerIsBetter() {
            return false;
        }

        @Override
        public String toString() {
            return metric + " " + NOT_WORSE + " p=" + GateSyntax.plain(alpha);
        }
    }

    /** Reads a gate from its YAML string. */
    final class Deserializer extends NodeDeserializer<Gate> {
        Deserializer() {
            super(Gate.class);
        }

        @Override
        protected Gate read(JsonNode node, DeserializationContext ctxt) {
            if (!node.isTextual()) {
                throw SchemaViolation.wrongType(node, "a gate expression: " + SYNTAX);
            }
            return parse(node.asText());
        }
    }
}
