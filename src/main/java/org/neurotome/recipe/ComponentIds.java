package org.neurotome.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.yaml.SchemaViolation;
import org.neurotome.yaml.SourceTree;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads literal head, neuron and expert ids as a recipe writes them: one {@code layer.index} value
 * ({@code 17.22}, also quoted), a pair {@code [17, 22]}, a map {@code {layer: 17, head: 22}}
 * (the noun as its key), or a list of those. The written digits
 * count: {@code 17.20} is head 20, {@code 17.2} head 2.
 */
final class ComponentIds {
    private static final Pattern LAYER_DOT_INDEX = Pattern.compile("(\\d+)\\.(\\d+)");

    private ComponentIds() {
    }

    /**
     * @param noun    "head", "neuron" or "expert", for messages
     * @param example an example id for messages, e.g. "17.22"
     */
    static <T> List<T> read(JsonNode node, String noun, String example, BiFunction<Integer, Integer, T> make) {
        String allowed = "layer." + noun + " (e.g. " + example + "), a [layer, " + noun + "] pair, "
                + "{layer: L, " + noun + ": K}, a list of those, or a ${reference}";
        if (!node.isArray()) {
            return List.of(one(node, noun, allowed, make, null));
        }
        if (node.isEmpty()) {
            throw SchemaViolation.of("empty list").allowed("one or more " + noun + "s");
        }
        Set<T> seen = new LinkedHashSet<>();
        for (int i = 0; i < node.size(); i++) {
            T id = one(node.get(i), noun, allowed, make, i);
            if (!seen.add(id)) {
                throw SchemaViolation.of("duplicate " + noun).at(i).got(id.toString()).allowed("each " + noun + " once");
            }
        }
        return new ArrayList<>(seen);
    }

    private static <T> T one(JsonNode n, String noun, String allowed, BiFunction<Integer, Integer, T> make,
                             Integer index) {
        if (n.isObject()) {
            if (n.size() != 2 || !n.path("layer").isIntegralNumber() || !n.path(noun).isIntegralNumber()) {
                throw invalid(noun, n, allowed, index);
            }
            return make(make, n.get("layer").asLong(), n.get(noun).asLong(), noun, n, allowed, index);
        }
        if (n.isArray()) {
            if (index == null) {
                // a bare [17, 22] is a list of two values, not a pair
                throw invalid(noun, n, allowed + " (a single pair goes in a list: [[17, 22]])", null);
            }
            if (n.size() != 2 || !n.get(0).isIntegralNumber() || !n.get(1).isIntegralNumber()) {
                throw invalid(noun, n, allowed, index);
            }
            return make(make, n.get(0).asLong(), n.get(1).asLong(), noun, n, allowed, index);
        }
        String text;
        if (n.isTextual()) {
            if (Reference.looksLikeOne(n.asText())) {
                throw at(SchemaViolation.of("a ${reference} must be the whole value, not a list item"), index)
                        .got(n.asText()).allowed(noun + "s: ${id}");
            }
            text = n.asText().strip();
        } else if (n.isBigDecimal()) {
            text = n.decimalValue().toPlainString();
        } else {
            throw invalid(noun, n, allowed, index);
        }
        Matcher m = LAYER_DOT_INDEX.matcher(text);
        if (!m.matches()) {
            throw invalid(noun, n, allowed, index);
        }
        return make(make, Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), noun, n, allowed, index);
    }

    private static <T> T make(BiFunction<Integer, Integer, T> make, long layer, long id, String noun, JsonNode n,
                              String allowed, Integer index) {
        if (layer < 0 || id < 0 || layer > Integer.MAX_VALUE || id > Integer.MAX_VALUE) {
            throw invalid(noun, n, allowed, index);
        }
        return make.apply((int) layer, (int) id);
    }

    private static SchemaViolation invalid(String noun, JsonNode n, String allowed, Integer index) {
        return at(SchemaViolation.of("invalid " + noun), index).gotText(SourceTree.describe(n)).allowed(allowed);
    }

    private static SchemaViolation at(SchemaViolation v, Integer index) {
        return index == null ? v : v.at(index);
    }
}
