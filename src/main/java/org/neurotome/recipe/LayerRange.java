package org.neurotome.recipe;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import org.neurotome.yaml.SchemaViolation;
import org.neurotome.yaml.SourceTree;

import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An inclusive range of 0-based layers: {@code 17-31}, one layer {@code 17}, or open-ended
 * {@code 17-} (layer 17 to the model's last layer, which the recipe need not know).
 *
 * @param first the first layer
 * @param last  the last layer, or null for "to the last layer of the model"
 */
@JsonDeserialize(using = LayerRange.Deserializer.class)
public record LayerRange(int first, Integer last) {
    private static final Pattern WRITTEN = Pattern.compile("(\\d+)\\s*(?:(-)\\s*(\\d+)?)?");
    private static final String SYNTAX = "first-last (e.g. 17-31), one layer (17), or first- (17 to the last layer)";

    public LayerRange {
        if (first < 0 || (last != null && last < first)) {
            throw SchemaViolation.of("invalid layer range").gotText(first + "-" + (last == null ? "" : last))
                    .allowed(SYNTAX + ", with 0 <= first <= last");
        }
    }

    /** Whether {@code layer} is in the range (an open range reaches every later layer). */
    public boolean contains(int layer) {
        return layer >= first && (last == null || layer <= last);
    }

    /** The last layer for a model with {@code numLayers} layers. */
    public int lastFor(int numLayers) {
        return last == null ? numLayers - 1 : last;
    }

    @Override
    public String toString() {
        if (last == null) {
            return first + "-";
        }
        return first == last ? String.valueOf(first) : first + "-" + last;
    }

    static final class Deserializer extends StdDeserializer<LayerRange> {
        Deserializer() {
            super(LayerRange.class);
        }

        @Override
        public LayerRange deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonNode n = ctxt.readTree(p);
            if (n.isIntegralNumber() && n.canConvertToInt()) {
                return new LayerRange(n.asInt(), n.asInt());
            }
            Matcher m = n.isTextual() ? WRITTEN.matcher(n.asText().strip()) : null;
            if (m == null || !m.matches()) {
                throw SchemaViolation.of("invalid layer range").gotText(SourceTree.describe(n)).allowed(SYNTAX);
            }
            try {
                int first = Integer.parseInt(m.group(1));
                if (m.group(2) == null) {
                    return new LayerRange(first, first);
                }
                return new LayerRange(first, m.group(3) == null ? null : Integer.parseInt(m.group(3)));
            } catch (NumberFormatException e) {
                throw SchemaViolation.of("invalid layer range").gotText(SourceTree.describe(n)).allowed(SYNTAX);
            }
        }
    }
}
