package org.neurotome.eval;

import org.neurotome.yaml.SchemaViolation;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The grammar of a {@link Gate} expression:
 * <pre>
 * gate     = metric ws* relation ws* number
 *          | metric ws+ "not_worse" [ws+ "p" ws* "=" ws* number]
 * metric   = task "." name {"." segment} [".delta" | ".rel_change"]   (no '&lt;' or '&gt;')
 * relation = "&gt;=" | "&lt;=" | "&gt;" | "&lt;"
 * </pre>
 * Segments may hold '=' (a breakdown: {@code arithmetic.accuracy.op=+}).
 */
final class GateSyntax {
    private static final Pattern NOT_WORSE = Pattern.compile("(.+?)\\s+not_worse(?:\\s+p\\s*=\\s*(\\S+))?");
    private static final Pattern THRESHOLD = Pattern.compile("([^<>]+?)\\s*(>=|<=|==|!=|=>|=<|>|<)\\s*(\\S+)");
    private static final Pattern SINGLE_EQUALS = Pattern.compile("(.+?)\\s+(=)\\s+(\\S+)");

    private GateSyntax() {
    }

    static Gate parse(String expression) {
        String text = expression.strip();
        Matcher notWorse = NOT_WORSE.matcher(text);
        if (notWorse.matches()) {
            String metric = metric(notWorse.group(1).strip(), text);
            if (Gate.Change.of(metric) != Gate.Change.VALUE) {
                throw SchemaViolation.of("invalid gate: not_worse compares the paired cases of a metric, "
                        + "not a derived value").got(text).allowed("'<task>.<metric> not_worse [p=0.05]'");
            }
            double alpha = Gate.DEFAULT_ALPHA;
            if (notWorse.group(2) != null) {
                alpha = number(notWorse.group(2), text);
                if (!(alpha > 0 && alpha < 1)) {
                    throw SchemaViolation.of("invalid gate significance level").got(text)
                            .allowed("p=<a number between 0 and 1>, e.g. p=0.05");
                }
            }
            return new Gate.NotWorse(metric, alpha);
        }
        Matcher threshold = THRESHOLD.matcher(text);
        if (!threshold.matches()) {
            threshold = SINGLE_EQUALS.matcher(text);
            if (!threshold.matches()) {
                throw SchemaViolation.of("invalid gate").got(text).allowed(Gate.SYNTAX);
            }
        }
        String operator = threshold.group(2);
        Gate.Relation relation = Arrays.stream(Gate.Relation.values())
                .filter(r -> r.symbol().equals(operator)).findFirst()
                .orElseThrow(() -> SchemaViolation.of("invalid gate comparison '" + operator + "'").got(text)
                        .allowed(">=, <=, >, <"));
        String written = metric(threshold.group(1).strip(), text);
        Gate.Change change = Gate.Change.of(written);
        String metric = metric(written.substring(0, written.length() - change.suffix().length()), text);
        return new Gate.Threshold(metric, change, relation, number(threshold.group(3), text));
    }

    /** A number as gates print it: 0.05, -0.3, 2 (no exponent, no trailing zeros). */
    static String plain(double v) {
        return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    private static String metric(String written, String text) {
        String[] segments = written.split("\\.", -1);
        boolean blank = Arrays.stream(segments).anyMatch(String::isBlank);
        if (segments.length < 2 || blank) {
            throw SchemaViolation.of("invalid gate metric '" + written + "'").got(text)
                    .allowed("<task>.<metric>, e.g. arithmetic.accuracy or arithmetic.accuracy.op=+");
        }
        return written;
    }

    private static double number(String written, String text) {
        try {
            double v = Double.parseDouble(written);
            if (Double.isFinite(v)) {
                return v;
            }
        } catch (NumberFormatException ignored) {
            // reported below with the whole expression
        }
        throw SchemaViolation.of("invalid gate bound '" + written + "'").got(text).allowed("a finite number");
    }
}
