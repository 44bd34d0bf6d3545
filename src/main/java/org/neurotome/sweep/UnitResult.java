package org.neurotome.sweep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.eval.EvalReport;
import org.neurotome.eval.GateResult;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * What one unit produced, as its {@code result.json} in the unit store holds it: the variant's
 * metrics, their change from the input, every gate's verdict and the written model's SHA-256
 * ({@code checkpoint.Manifest#fingerprint}); or, for a unit that failed, the error line and its
 * exit code. The time it took is kept apart ({@link #seconds}), so results compare equal across
 * engines and runs.
 *
 * @param key        the unit's content key
 * @param overrides  the variant's overrides
 * @param error      null when the unit finished; else the one-line error
 * @param exitCode   0, or the failed unit's exit code
 * @param metrics    the variant's eval metrics
 * @param comparison their change from the input model ({@code .delta}, {@code .rel_change})
 * @param gates      the gate verdicts, in suite order
 * @param model      the written checkpoint's SHA-256
 * @param seconds    how long the unit ran
 */
public record UnitResult(String key, SequencedMap<String, String> overrides, String error, int exitCode,
                         SequencedMap<String, Double> metrics, SequencedMap<String, Double> comparison,
                         List<Gate> gates, String model, double seconds) {

    /** A gate's verdict as a sweep reports it: the gate as written, the value it compared with its bound, pass or fail. */
    public record Gate(String name, Double value, double bound, boolean passed) {
    }

    public UnitResult {
        overrides = new LinkedHashMap<>(overrides);
        metrics = new LinkedHashMap<>(metrics);
        comparison = new LinkedHashMap<>(comparison);
        gates = List.copyOf(gates);
    }

    /** The result of a unit that ran to its end (its gates passed or not). */
    static UnitResult finished(Unit unit, EvalReport report, String model, double seconds) {
        List<Gate> gates = new ArrayList<>();
        for (GateResult g : report.gates()) {
            gates.add(new Gate(g.name(), g.value(), g.bound(), g.passed()));
        }
        return new UnitResult(unit.key(), unit.overrides(), null, 0, report.metrics(), report.comparison(), gates,
                model, seconds);
    }

    /** The result of a unit that stopped with an error. */
    public static UnitResult failed(Unit unit, String error, int exitCode, double seconds) {
        return new UnitResult(unit.key(), unit.overrides(), error, exitCode, new LinkedHashMap<>(),
                new LinkedHashMap<>(), List.of(), null, seconds);
    }

    /** Whether the unit ran to its end: only such a result is reused by a later sweep. */
    public boolean done() {
        return error == null;
    }

    /** Whether it finished and every gate passed. */
    public boolean passed() {
        return done() && gates.stream().allMatch(Gate::passed);
    }

    /** A metric or change by name, or null. */
    public Double value(String name) {
        Double v = metrics.get(name);
        return v != null ? v : comparison.get(name);
    }

    /** The result as JSON text (the timing included). */
    public String toJson() {
        ObjectNode n = row();
        n.put("seconds", seconds);
        try {
            return Json.pretty().writeValueAsString(n) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Everything but the timing, as the rows of {@code sweep.json} show it. */
    ObjectNode row() {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("key", key);
        ObjectNode set = n.putObject("overrides");
        overrides.forEach(set::put);
        if (error != null) {
            n.put("error", error).put("exit_code", exitCode);
            return n;
        }
        n.put("passed", passed());
        ObjectNode m = n.putObject("metrics");
        metrics.forEach(m::put);
        ObjectNode c = n.putObject("comparison");
        comparison.forEach(c::put);
        ArrayNode g = n.putArray("gates");
        for (Gate gate : gates) {
            g.addObject().put("name", gate.name()).put("value", gate.value()).put("bound", gate.bound())
                    .put("passed", gate.passed());
        }
        n.put("model_sha256", model);
        return n;
    }

    /** Reads what {@link #toJson} wrote. */
    public static UnitResult fromJson(String text) {
        JsonNode n = Json.tree(text);
        SequencedMap<String, String> set = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : n.required("overrides").properties()) {
            set.put(e.getKey(), e.getValue().asText());
        }
        if (n.has("error")) {
            return new UnitResult(n.required("key").asText(), set, n.get("error").asText(),
                    n.required("exit_code").asInt(), new LinkedHashMap<>(), new LinkedHashMap<>(), List.of(), null,
                    n.path("seconds").asDouble());
        }
        List<Gate> gates = new ArrayList<>();
        for (JsonNode g : n.required("gates")) {
            gates.add(new Gate(g.required("name").asText(), g.get("value").isNull() ? null : g.get("value").asDouble(),
                    g.required("bound").asDouble(), g.required("passed").asBoolean()));
        }
        return new UnitResult(n.required("key").asText(), set, null, 0, numbers(n.required("metrics")),
                numbers(n.required("comparison")), gates, n.required("model_sha256").asText(),
                n.path("seconds").asDouble());
    }

    private static SequencedMap<String, Double> numbers(JsonNode object) {
        SequencedMap<String, Double> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : object.properties()) {
            out.put(e.getKey(), e.getValue().isNull() ? null : e.getValue().asDouble());
        }
        return out;
    }
}
