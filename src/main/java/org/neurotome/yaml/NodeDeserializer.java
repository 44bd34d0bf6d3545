package org.neurotome.yaml;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;

import java.io.IOException;

/**
 * Reads a document value that has a form of its own (a gate expression, a size, a list of heads)
 * from its tree: a subclass says how one node becomes a {@code T} and throws a
 * {@link SchemaViolation} where it does not, which {@link StrictYaml} positions in the document.
 */
public abstract class NodeDeserializer<T> extends StdDeserializer<T> {
    protected NodeDeserializer(Class<T> type) {
        super(type);
    }

    /** The value {@code node} stands for. */
    protected abstract T read(JsonNode node, DeserializationContext ctxt) throws IOException;

    @Override
    public final T deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
        return read(ctxt.readTree(p), ctxt);
    }
}
