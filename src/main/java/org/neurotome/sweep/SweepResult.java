package org.neurotome.sweep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.Tool;
import org.neurotome.recipe.Sweep;

import java.nio.file.Path;
import java.util.List;

/**
 * What a sweep found, as {@code sweep.json} holds it: one row per variant (its overrides, every
 * metric and change from the input, every gate with pass or fail, the checkpoint's directory and
 * SHA-256, or the error of a unit that failed), the best variant by the objective among those
 * that passed every gate, and how many units were planned, run and reused. Rows depend only on
 * the inputs, whatever engine ran them; timings are kept apart under {@code timings}.
 *
 * @param plan    the sweep
 * @param results one per unit, in grid order
 * @param best    the index of the best variant, or -1 when none passed every gate
 * @param run     units run by this sweep
 * @param reused  units found done in the store
 * @param kept    whether each variant's checkpoint is kept
 * @param seconds the sweep's wall time
 */
public record SweepResult(SweepPlan plan, List<UnitResult> results, int best, int run, int reused,
                          List<Boolean> kept, double seconds) {
    public static final String JSON_FILE = "sweep.json";
    public static final String HTML_FILE = "sweep.html";

    /** The best variant: the objective's best value among variants that passed every gate, the first on a tie; -1 if none. */
    static int best(List<UnitResult> results, Sweep.Objective objective) {
        int best = -1;
        for (int i = 0; i < results.size(); i++) {
            UnitResult r = results.get(i);
            Double v = r.passed() ? r.value(objective.metric()) : null;
            if (v == null || v.isNaN()) {
                continue;
            }
            Double b = best < 0 ? null : results.get(best).value(objective.metric());
            if (b == null || (objective.goal() == Sweep.Goal.MIN ? v < b : v > b)) {
                best = i;
            }
        }
        return best;
    }

    /** The units that failed, in grid order. */
    public List<UnitResult> failed() {
        return results.stream().filter(r -> !r.done()).toList();
    }

    /** Where variant {@code i}'s checkpoint is, relative to the sweep's directory. */
    String output(int i) {
        Unit u = plan.units().get(i);
        return plan.dir().relativize(u.model()).toString().replace(java.io.File.separatorChar, '/');
    }

    /** The document. */
    public ObjectNode document() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("format", "neurotome-sweep/1");
        root.putObject("tool").put("name", "neurotome").put("version", Tool.version());
        root.put("recipe", relative(plan.recipe()));
        ObjectNode grid = root.putObject("grid");
        plan.grid().axes().forEach((k, values) -> values.forEach(grid.withArray(k)::add));
        root.putObject("objective").put("metric", plan.objective().metric())
                .put("goal", plan.objective().goal().name().toLowerCase(java.util.Locale.ROOT));
        ArrayNode rows = root.putArray("rows");
        for (int i = 0; i < results.size(); i++) {
            rows.add(row(i));
        }
        if (best >= 0) {
            root.set("best", row(best));
        } else {
            root.putNull("best");
        }
        root.putObject("units").put("planned", plan.planned()).put("run", run).put("reused", reused)
                .put("failed", failed().size());
        ObjectNode timings = root.putObject("timings").put("seconds", seconds);
        ObjectNode units = timings.putObject("units");
        for (int i = 0; i < results.size(); i++) {
            units.put(Integer.toString(i), results.get(i).seconds());
        }
        return root;
    }

    /** Row {@code i}: the variant's index, objective value and output beside its unit's result. */
    ObjectNode row(int i) {
        UnitResult r = results.get(i);
        ObjectNode row = Json.MAPPER.createObjectNode().put("variant", i);
        row.setAll(r.row());
        if (r.done()) {
            row.put("objective", r.value(plan.objective().metric()));
            row.put("output", output(i));
            row.put("kept", kept.get(i));
        }
        return row;
    }

    /** The document as text. */
    public String json() {
        try {
            return Json.pretty().writeValueAsString(document()) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private String relative(Path p) {
        return plan.dir().relativize(p).toString().replace(java.io.File.separatorChar, '/');
    }
}
