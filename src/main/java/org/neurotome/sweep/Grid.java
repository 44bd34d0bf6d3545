package org.neurotome.sweep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.recipe.Sweep;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * A sweep's grid: recipe keys (dotted, as {@code apply --set} takes them) and the values each
 * takes, expanded into one variant per combination, the first key changing slowest. Values are
 * YAML text, applied to the recipe exactly as {@code --set} values are.
 *
 * @param axes key → values, in the order the keys were given
 */
public record Grid(SequencedMap<String, List<String>> axes) {
    /** Keys a grid may not vary: the sweep places each variant's output itself. */
    static final List<String> RESERVED = List.of("output.dir", "output.archive", "sweep");

    public Grid {
        axes = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(axes));
    }

    /**
     * The recipe's {@code sweep.grid} (may be null), with {@code --grid KEY=V1,V2,...} arguments
     * replacing or adding keys. Values are separated by commas outside brackets, so a list value
     * stays whole: {@code --grid 'edit.0.neurons=[1.2, 3.4],[5.6]'}.
     */
    public static Grid of(Sweep block, List<String> arguments) {
        SequencedMap<String, List<String>> axes = new LinkedHashMap<>();
        if (block != null) {
            block.grid().forEach((key, values) -> axes.put(key, values.stream().map(Grid::yaml).toList()));
        }
        for (String argument : arguments) {
            int eq = argument.indexOf('=');
            if (eq <= 0) {
                throw NeurotomeException.badInput("--grid " + argument + ": expected KEY=V1,V2,... such as"
                        + " locate.0.top=6,12,18");
            }
            List<String> values = split(argument.substring(eq + 1));
            if (values.stream().anyMatch(String::isBlank)) {
                throw NeurotomeException.badInput("--grid " + argument + ": an empty value; allowed: values"
                        + " separated by commas, such as 6,12,18");
            }
            axes.put(argument.substring(0, eq).strip(), values);
        }
        for (String key : axes.keySet()) {
            for (String reserved : RESERVED) {
                if (key.equals(reserved) || key.startsWith(reserved + ".")) {
                    throw NeurotomeException.badInput("--grid " + key + ": the sweep chooses each variant's "
                            + reserved + " itself; allowed: any other recipe key");
                }
            }
        }
        return new Grid(axes);
    }

    /** Every combination of values, as {@code --set} overrides, the first key changing slowest. */
    public List<SequencedMap<String, String>> variants() {
        List<SequencedMap<String, String>> out = new ArrayList<>();
        out.add(new LinkedHashMap<>());
        for (Map.Entry<String, List<String>> axis : axes.entrySet()) {
            List<SequencedMap<String, String>> next = new ArrayList<>();
            for (SequencedMap<String, String> partial : out) {
                for (String value : axis.getValue()) {
                    SequencedMap<String, String> v = new LinkedHashMap<>(partial);
                    v.put(axis.getKey(), value);
                    next.add(v);
                }
            }
            out = next;
        }
        return out;
    }

    /** Splits at commas that are not inside brackets or quotes. */
    static List<String> split(String text) {
        List<String> values = new ArrayList<>();
        int depth = 0;
        char quote = 0;
        int start = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if (c == ']' || c == '}') {
                depth--;
            } else if (c == ',' && depth == 0) {
                values.add(text.substring(start, i).strip());
                start = i + 1;
            }
        }
        values.add(text.substring(start).strip());
        return values;
    }

    /** A value of the recipe's grid as the YAML text an override takes (JSON is YAML). */
    private static String yaml(JsonNode value) {
        try {
            return Json.MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
