package org.neurotome.eval;

/**
 * The verdict of one {@link Gate} on one candidate, as {@code report.json} lists it.
 *
 * @param name     the gate as written canonically, e.g. {@code arithmetic.accuracy.delta >= -0.01}
 * @param metric   the metric it reads, e.g. {@code arithmetic.accuracy}
 * @param relation {@code >=}, {@code <=}, {@code >}, {@code <}, or {@code not_worse}
 * @param bound    the number compared against (the significance level for {@code not_worse})
 * @param value    the value compared (the derived delta or relative change where the gate asks
 *                 for one; McNemar's p-value for {@code not_worse}); null when it could not be
 *                 computed
 * @param passed   whether the gate passed; a gate whose value is missing fails
 * @param reason   why it failed when the value is missing or undefined, and the test's counts
 *                 for {@code not_worse}; null otherwise
 */
public record GateResult(String name, String metric, String relation, double bound, Double value,
                         boolean passed, String reason) {
}
