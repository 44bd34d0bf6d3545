package org.neurotome.recipe;

import org.neurotome.yaml.NodeDeserializer;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.yaml.SchemaViolation;
import org.neurotome.yaml.SourceTree;

import org.neurotome.arch.LayerRange;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads a recipe's layer range, {@code 17-31}, {@code 17} or {@code 17-}, with positioned errors. */
final class LayerRangeDeserializer extends NodeDeserializer<LayerRange> {
    private static final Pattern WRITTEN = Pattern.compile("(\\d+)\\s*(?:(-)\\s*(\\d+)?)?");

    LayerRangeDeserializer() {
        super(LayerRange.class);
    }

    @Override
    protected LayerRange read(JsonNode n, DeserializationContext ctxt) {
        if (n.isIntegralNumber() && n.canConvertToInt() && n.asInt() >= 0) {
            return new LayerRange(n.asInt(), n.asInt());
        }
        Matcher m = n.isTextual() ? WRITTEN.matcher(n.asText().strip()) : null;
        if (m == null || !m.matches()) {
            throw SchemaViolation.of("invalid layer range").gotText(SourceTree.describe(n)).allowed(LayerRange.SYNTAX);
        }
        try {
            int first = Integer.parseInt(m.group(1));
            if (m.group(2) == null) {
                return new LayerRange(first, first);
            }
            Integer last = m.group(3) == null ? null : Integer.parseInt(m.group(3));
            if (last != null && last < first) {
                throw SchemaViolation.of("invalid layer range").gotText(first + "-" + last)
                        .allowed(LayerRange.SYNTAX + ", with 0 <= first <= last");
            }
            return new LayerRange(first, last);
        } catch (NumberFormatException e) {
            throw SchemaViolation.of("invalid layer range").gotText(SourceTree.describe(n)).allowed(LayerRange.SYNTAX);
        }
    }
}
