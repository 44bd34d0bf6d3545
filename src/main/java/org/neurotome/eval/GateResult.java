package org.neurotome.eval;

/**
 * The verdict of one release gate.
 *
 * @param name   the metric the gate reads ({@code arithmetic.accuracy.delta})
 * @param bound  the condition as written ({@code >= -0.01})
 * @param value  the metric's value; null when the run produced no such metric (then the gate fails)
 * @param passed whether the condition holds
 */
public record GateResult(String name, String bound, Double value, boolean passed) {
}
