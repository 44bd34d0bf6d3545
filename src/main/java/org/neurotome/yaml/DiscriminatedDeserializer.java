package org.neurotome.yaml;

import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Binds a mapping to one of several records chosen by a discriminator key — an edit's
 * {@code op}, an analysis's {@code method} — so each member declares exactly its own keys. The
 * chosen record binds the mapping without the discriminator; an unknown name, or a key the member
 * does not declare, is a {@link SchemaViolation} listing what that member allows.
 *
 * <p>Register it for the union's interface with a Jackson module (an annotation on the interface
 * would be inherited by its members).
 */
public class DiscriminatedDeserializer<T> extends NodeDeserializer<T> {
    private final String key;
    private final Map<String, Class<? extends T>> members;
    private final String what;

    /**
     * @param key     the discriminator key, e.g. {@code op}
     * @param members name → record, in the order messages list them
     * @param what    what a name names, for messages: "edit op", "method"
     */
    public DiscriminatedDeserializer(Class<T> union, String key, Map<String, Class<? extends T>> members, String what) {
        super(union);
        this.key = key;
        this.members = members;
        this.what = what;
    }

    public List<String> names() {
        return List.copyOf(members.keySet());
    }

    /**
     * The member for a mapping without the discriminator. By default that is an error; a union
     * with a second form (a locate step that reads findings {@code from} a file) overrides this.
     */
    protected Class<? extends T> withoutDiscriminator(ObjectNode node) {
        throw SchemaViolation.missingKey(key, "the " + what + " to use").allowedWords(null, names());
    }

    @Override
    protected T read(JsonNode node, DeserializationContext ctxt) throws IOException {
        if (!(node instanceof ObjectNode obj)) {
            throw SchemaViolation.wrongType(node,
                    "a mapping with '" + key + "' (" + String.join(", ", names()) + ")");
        }
        JsonNode name = obj.get(key);
        Class<? extends T> member;
        if (name == null || name.isNull()) {
            member = withoutDiscriminator(obj);
        } else if (!name.isTextual()) {
            throw SchemaViolation.of("wrong type").at(key).gotText(SourceTree.describe(name))
                    .allowedWords(null, names());
        } else {
            member = members.get(name.asText());
            if (member == null) {
                throw SchemaViolation.of("unknown " + what).at(key).got(name.asText())
                        .allowedWords(name.asText(), names());
            }
        }
        ObjectNode body = obj.deepCopy();
        body.remove(key);
        List<String> allowed = new ArrayList<>(StrictYaml.keysOf(member));
        if (name != null && !name.isNull()) {
            // list the discriminator after the id, where a reader looks for it
            allowed.add(allowed.contains("id") ? 1 : 0, key);
        }
        // unknown keys first: a misspelt required key is reported as the unknown key it is
        String unknown = StrictYaml.unknownKey(body, member);
        if (unknown != null) {
            throw StrictYaml.unknownKeyViolation(unknown, allowed).at(unknown);
        }
        try {
            return ctxt.readTreeAsValue(body, member);
        } catch (ValueInstantiationException e) {
            // the member's own constructor refused it: report that, relative to this mapping
            if (e.getPath().isEmpty() && e.getCause() instanceof SchemaViolation v) {
                throw v;
            }
            throw e;
        }
    }
}
