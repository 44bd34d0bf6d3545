package org.neurotome.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Expert;
import org.neurotome.arch.Head;
import org.neurotome.arch.LayerRange;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Neuron;
import org.neurotome.cna.Findings;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Applies a recipe's {@code select} step to findings: keep the entries of one kind within a
 * layer range whose ranking value reaches the threshold, then the first {@code top} of them
 * — or, with {@code per_case}, the union of each case's own top entries (the paper's §6.1
 * "top-500 FFN neurons per case, union"). Experts are kept per sparse layer: the
 * {@code lowest} of each layer's ranking (REAP, arXiv 2510.13999, prunes the lowest
 * saliency), from findings that rank every expert of the layer.
 */
final class Selector {
    private Selector() {
    }

    /** Everything a locate step kept, for a {@code ${id}} that names the step itself. */
    static Selection all(Findings f, ComponentKind kind) {
        return switch (kind) {
            case HEADS -> new Selection.Heads(f.heads().stream().map(Findings.RankedHead::head).toList());
            case NEURONS -> new Selection.Neurons(f.neurons().stream().map(Findings.RankedNeuron::neuron).toList());
            case EXPERTS -> {
                List<Expert> out = new ArrayList<>();
                f.document().path("experts").forEach(e -> out.add(new Expert(e.path("layer").asInt(),
                        e.path("expert").asInt())));
                yield new Selection.Experts(out);
            }
        };
    }

    /** The entries of {@code f} that {@code s} keeps; {@code model} is the model's shape, whose sparse layers experts come from. */
    static Selection select(Findings f, Select s, ModelConfig model) {
        if (s.kind() == ComponentKind.EXPERTS) {
            return lowestExperts(f, s, model);
        }
        if (s.perCase()) {
            JsonNode cases = f.document().get("cases");
            if (cases == null || !cases.isArray()) {
                throw NeurotomeException.badInput("select '" + s.id() + "': per_case needs per-case rankings, and the findings of '"
                        + s.from() + "' have none (a findings file must be written with per-case rankings)");
            }
            String key = s.kind() == ComponentKind.HEADS ? "heads" : "neurons";
            Set<Head> heads = new LinkedHashSet<>();
            Set<Neuron> neurons = new LinkedHashSet<>();
            for (JsonNode c : cases) {
                int taken = 0;
                for (JsonNode e : c.path(key)) {
                    int layer = e.path("layer").asInt();
                    double value = e.path(valueKey(f, s.kind())).asDouble(Double.NaN);
                    if (!keeps(s, layer, value) || (s.top() != null && taken >= s.top())) {
                        continue;
                    }
                    taken++;
                    if (s.kind() == ComponentKind.HEADS) {
                        heads.add(new Head(layer, e.path("head").asInt()));
                    } else {
                        neurons.add(new Neuron(layer, e.path("neuron").asInt()));
                    }
                }
            }
            return s.kind() == ComponentKind.HEADS ? new Selection.Heads(new ArrayList<>(heads))
                    : new Selection.Neurons(new ArrayList<>(neurons));
        }
        if (s.kind() == ComponentKind.HEADS) {
            List<Head> out = new ArrayList<>();
            for (Findings.RankedHead h : f.heads()) {
                if (keeps(s, h.head().layer(), h.value()) && (s.top() == null || out.size() < s.top())) {
                    out.add(h.head());
                }
            }
            return new Selection.Heads(out);
        }
        List<Neuron> out = new ArrayList<>();
        for (Findings.RankedNeuron n : f.neurons()) {
            if (keeps(s, n.neuron().layer(), n.value()) && (s.top() == null || out.size() < s.top())) {
                out.add(n.neuron());
            }
        }
        return new Selection.Neurons(out);
    }

    /**
     * The {@code lowest} experts of each sparse layer in {@code s.layers()}: the layer's experts
     * sorted by the ranking value (an expert scan over a data set: accuracy drop, then drop) from
     * the lowest, ties to the lower expert index, as REAP prunes. A layer the findings do not rank
     * every expert of (the locate step's {@code top} or {@code layers} cut it), or with a value
     * that is not finite, is refused: its lowest are unknown.
     */
    private static Selection lowestExperts(Findings f, Select s, ModelConfig c) {
        int count = c.features().experts().count();
        String key = f.document().path("rank").path("experts").asText("value");
        List<String> keys = key.equals("accuracy_drop") ? List.of(key, "drop") : List.of(key);
        Map<Integer, List<JsonNode>> byLayer = new TreeMap<>();
        for (JsonNode e : f.document().path("experts")) {
            byLayer.computeIfAbsent(e.path("layer").asInt(), l -> new ArrayList<>()).add(e);
        }
        if (s.lowest() > count) {
            throw NeurotomeException.badInput("select '" + s.id() + "': lowest " + s.lowest() + " is more than the "
                    + count + " experts of a sparse layer");
        }
        Comparator<JsonNode> order = Comparator.comparingDouble(e -> e.path(keys.get(0)).asDouble());
        for (String k : keys.subList(1, keys.size())) {
            order = order.thenComparingDouble(e -> e.path(k).asDouble());
        }
        order = order.thenComparingInt(e -> e.path("expert").asInt());
        List<Expert> out = new ArrayList<>();
        for (int layer : Expert.sparseLayers(c)) {
            if (s.layers() != null && !s.layers().contains(layer)) {
                continue;
            }
            List<JsonNode> ranked = new ArrayList<>(byLayer.getOrDefault(layer, List.of()));
            if (ranked.size() != count) {
                throw NeurotomeException.badInput("select '" + s.id() + "': the findings of '" + s.from() + "' rank "
                        + ranked.size() + " of layer " + layer + "'s " + count + " experts, so its lowest are unknown"
                        + " (give '" + s.from() + "' top: 0 and layers that include " + layer + ")");
            }
            for (JsonNode e : ranked) {
                for (String k : keys) {
                    if (!Double.isFinite(e.path(k).asDouble(Double.NaN))) {
                        throw NeurotomeException.badInput("select '" + s.id() + "': expert " + layer + "."
                                + e.path("expert").asInt() + " has no finite " + k + " in the ranking of '" + s.from()
                                + "' (NaN or infinite: the model produced non-finite numbers); its layer's lowest"
                                + " are unknown");
                    }
                }
            }
            ranked.sort(order);
            ranked.subList(0, s.lowest()).forEach(e -> out.add(new Expert(layer, e.path("expert").asInt())));
        }
        return new Selection.Experts(out);
    }

    /**
     * Refuses a choice the ranking does not support: every chosen entry valued 0 (the order is
     * then only the tie-break — CNA of a model against itself gives all differences 0) or any
     * chosen value not finite. {@code who} names the step making the choice, {@code from} the
     * step whose ranking it is.
     */
    static void requireRanked(Findings f, Selection chosen, String who, String from) {
        Map<Object, Double> values = new HashMap<>();
        f.heads().forEach(h -> values.put(h.head(), h.value()));
        f.neurons().forEach(n -> values.put(n.neuron(), n.value()));
        List<?> components = switch (chosen) {
            case Selection.Heads h -> h.heads();
            case Selection.Neurons n -> n.neurons();
            case Selection.Experts e -> List.of();  // chosen per layer, lowest first: a 0 there is a real ranking
        };
        String kind = chosen instanceof Selection.Heads ? "heads" : "neurons";
        String key = f.document().path("rank").path(kind).asText("value");
        boolean anyNonZero = false;
        boolean anyKnown = false;
        for (Object c : components) {
            Double v = values.get(c);
            if (v == null) {
                continue;
            }
            anyKnown = true;
            if (!Double.isFinite(v)) {
                throw NeurotomeException.badInput(who + ": " + kind + " " + c + " has no finite " + key + " in the ranking of '"
                        + from + "' (NaN or infinite: the model produced non-finite numbers); nothing can be chosen by it");
            }
            anyNonZero |= v != 0;
        }
        if (anyKnown && !anyNonZero) {
            throw NeurotomeException.badInput(who + ": every chosen entry has " + key + " 0 in the ranking of '" + from
                    + "', so their order is only the tie-break and the edit would hit arbitrary " + kind
                    + " (CNA of a model against itself, or two runs that do not differ)");
        }
    }

    private static String valueKey(Findings f, ComponentKind kind) {
        return f.document().path("rank").path(kind == ComponentKind.HEADS ? "heads" : "neurons").asText("score");
    }

    private static boolean keeps(Select s, int layer, double value) {
        LayerRange layers = s.layers();
        return (layers == null || layers.contains(layer)) && (s.threshold() == null || value >= s.threshold());
    }
}
