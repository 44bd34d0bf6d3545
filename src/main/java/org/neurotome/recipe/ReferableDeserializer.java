package org.neurotome.recipe;

import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.yaml.NodeDeserializer;

import java.io.IOException;

/**
 * Reads a recipe value that is either written out or {@code ${id}} of an earlier step
 * (docs/recipes.md, references): a text beginning with {@code $} is read as a
 * {@link Reference}, anything else as the value written out, the way the subclass says.
 */
abstract class ReferableDeserializer<T> extends NodeDeserializer<T> {
    private final Class<T> type;

    ReferableDeserializer(Class<T> type) {
        super(type);
        this.type = type;
    }

    /** The value written out in {@code node}. */
    protected abstract T written(JsonNode node, DeserializationContext ctxt) throws IOException;

    @Override
    protected final T read(JsonNode node, DeserializationContext ctxt) throws IOException {
        if (node.isTextual() && Reference.looksLikeOne(node.asText())) {
            return type.cast(Reference.parse(node.asText()));
        }
        return written(node, ctxt);
    }
}
