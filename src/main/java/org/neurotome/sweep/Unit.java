package org.neurotome.sweep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * One unit of a sweep: a variant of the recipe (the recipe with its grid overrides), run end to
 * end as {@code apply} runs it, its output and result kept in the sweep's unit store. A unit is
 * named by {@link #key}, the SHA-256 of everything its result depends on ({@link SweepPlan}), so
 * a finished unit is found again by any later sweep that needs it. Units travel as one JSON line
 * ({@code --emit-units}, Spark tasks), with absolute paths: every worker must see the same files.
 *
 * @param index     the variant's position in the grid (0-based)
 * @param key       the content key
 * @param recipe    the recipe file
 * @param overrides the variant's {@code --set} overrides, in grid order
 * @param store     the unit store's directory ({@code <sweep>/units})
 * @param threads   libtorch threads the unit runs with
 * @param shared    the analyses it shares with other variants (or whose shards it shares), computed once into the store
 * @param baseline  the evaluation of the unedited model that its eval shares with the other variants
 */
public record Unit(int index, String key, Path recipe, SequencedMap<String, String> overrides, Path store,
                   int threads, List<SharedAnalysis> shared, SharedBaseline baseline) {
    public Unit {
        overrides = new LinkedHashMap<>(overrides);
        shared = List.copyOf(shared);
    }

    /** The unit as one line of JSON. */
    public String toJson() {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("index", index).put("key", key).put("recipe", recipe.toString());
        ObjectNode set = n.putObject("overrides");
        overrides.forEach(set::put);
        n.put("store", store.toString()).put("threads", threads);
        ArrayNode analyses = n.putArray("shared");
        shared.forEach(a -> {
            ObjectNode o = analyses.addObject().put("step", a.step()).put("key", a.key()).put("top", a.top())
                    .put("shards", a.shards()).put("findings_shared", a.findingsShared());
            a.tops().forEach(o.putArray("tops")::add);
        });
        n.put("baseline", baseline.key());
        try {
            return Json.MAPPER.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a unit line; {@code where} names it in errors ({@code units.jsonl:3}). */
    public static Unit fromJson(String line, String where) {
        try {
            JsonNode n = Json.MAPPER.readTree(line);
            SequencedMap<String, String> set = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : n.required("overrides").properties()) {
                set.put(e.getKey(), e.getValue().asText());
            }
            List<SharedAnalysis> shared = new ArrayList<>();
            for (JsonNode a : n.required("shared")) {
                List<Integer> tops = new ArrayList<>();
                a.required("tops").forEach(t -> tops.add(t.asInt()));
                shared.add(new SharedAnalysis(a.required("step").asInt(), a.required("key").asText(),
                        a.required("top").asInt(), tops, a.required("shards").asInt(),
                        a.required("findings_shared").asBoolean()));
            }
            return new Unit(n.required("index").asInt(), n.required("key").asText(),
                    Path.of(n.required("recipe").asText()), set, Path.of(n.required("store").asText()),
                    n.required("threads").asInt(), shared, new SharedBaseline(n.required("baseline").asText()));
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw NeurotomeException.badInput(where + ": not a unit written by sweep --emit-units: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** The units it shares with other variants: its analyses whose findings are shared, all their shards, and its baseline. */
    List<SharedUnit> sharedUnits() {
        List<SharedUnit> all = new ArrayList<>(shared.stream().filter(SharedAnalysis::findingsShared).toList());
        shared.forEach(a -> all.addAll(a.shardUnits()));
        all.add(baseline);
        return all;
    }

    /** This unit's folder in the store. */
    public Path dir() {
        return store.resolve(key);
    }

    /** Where the unit writes its checkpoint. */
    public Path model() {
        return dir().resolve("model");
    }
}
