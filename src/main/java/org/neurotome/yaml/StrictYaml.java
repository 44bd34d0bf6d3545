package org.neurotome.yaml;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.Module;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.cfg.ContextAttributes;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.type.LogicalType;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict binding of a user-written YAML file to Java records with Jackson, every error a
 * BAD_INPUT {@link NeurotomeException} reading
 * {@code file:line:column: <what is wrong> <where>; got <bad value>; allowed: <values>}
 * (plus "did you mean" for near misses).
 *
 * <p>Strict means: unknown keys, duplicate keys, wrong scalar types (no text-to-number or
 * number-to-boolean coercion, no fractional value for a whole number) and enum values not in the
 * list are errors. Required keys and value ranges are checked by the records' compact
 * constructors, which throw {@link SchemaViolation}; the violation's path is joined to the path
 * Jackson reports, and the position looked up in the {@link SourceTree}. Keys are snake_case
 * spellings of the record components ({@code maxShardSize} is {@code max_shard_size}).
 *
 * <p>Relative {@link Path} values resolve against the document's folder.
 */
public final class StrictYaml {
    private static final String BASE_DIR = StrictYaml.class.getName() + ".baseDir";
    private static final PropertyNamingStrategies.NamingBase KEY_NAMES =
            (PropertyNamingStrategies.NamingBase) PropertyNamingStrategies.SNAKE_CASE;

    /**
     * The largest recipe or suite read: a hand-written one is a few kilobytes, and one listing
     * every FFN neuron of several layers of a large model still fits.
     */
    public static final int MAX_BYTES = 1 << 20;

    private final ObjectMapper mapper;

    /** A binder using {@code modules} for the document's own types (discriminated unions). */
    public StrictYaml(Module... modules) {
        SimpleModule paths = new SimpleModule("resolved-paths");
        paths.addDeserializer(Path.class, new PathDeserializer());
        JsonMapper m = JsonMapper.builder()
                .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                // deserializers that re-read a subtree keep written decimals: 17.20 is not 17.2
                .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
                .addModule(paths)
                .addModules(modules)
                .build();
        // a number where text is expected is read as its written form (a target token "8")
        m.coercionConfigFor(LogicalType.Textual)
                .setCoercion(CoercionInputShape.Integer, CoercionAction.TryConvert)
                .setCoercion(CoercionInputShape.Float, CoercionAction.TryConvert);
        this.mapper = m;
    }

    /**
     * Reads {@code file}, applies the {@code --set} overrides (dotted key → YAML value, in map
     * order) and binds the result to {@code type}.
     *
     * @param attributes values the document's own deserializers read with
     *                   {@link DeserializationContext#getAttribute}
     */
    public <T> Document<T> read(Path file, Class<T> type, Map<String, String> overrides,
                                Map<String, Object> attributes) {
        String text = readText(file);
        SourceTree tree = SourceTree.parse(file.toString(), text);
        overrides.forEach(tree::override);
        Path base = file.getParent() == null ? Path.of("") : file.getParent();
        ContextAttributes context = ContextAttributes.getEmpty()
                .withSharedAttributes(new HashMap<>(attributes))
                .withSharedAttribute(BASE_DIR, base);
        try {
            T value = mapper.readerFor(type).with(context).readValue(tree.root());
            if (value == null) {
                throw tree.error(tree.valuePosition(JsonPointer.empty()),
                        "empty document; allowed: a mapping with keys " + String.join(", ", keysOf(type)));
            }
            return new Document<>(value, tree);
        } catch (JsonMappingException e) {
            throw translate(e, tree);
        } catch (IOException e) {
            throw NeurotomeException.badInput(file + ": cannot read: " + NeurotomeException.reason(e));
        }
    }

    /** Resolves a path written in the document against the document's folder. */
    public static Path resolve(DeserializationContext ctxt, String written) {
        Path base = (Path) ctxt.getAttribute(BASE_DIR);
        Path p = Path.of(written);
        return (base == null ? p : base.resolve(p)).normalize();
    }

    /** The YAML keys of a record type, in declaration order. */
    public static List<String> keysOf(Class<?> type) {
        if (!type.isRecord()) {
            return List.of();
        }
        return Arrays.stream(type.getRecordComponents()).map(c -> KEY_NAMES.translate(c.getName())).toList();
    }

    /**
     * Reads {@code file} as UTF-8, refusing it unread when it is larger than {@link #MAX_BYTES}
     * (and reading no further than that from a pipe), so a huge file costs no parse.
     */
    private static String readText(Path file) {
        try {
            if (Files.isDirectory(file)) {
                throw NeurotomeException.badInput(file + ": is a directory; allowed: a YAML file");
            }
            long size = Files.size(file);
            byte[] bytes;
            try (java.io.InputStream in = Files.newInputStream(file)) {
                bytes = size > MAX_BYTES ? null : in.readNBytes(MAX_BYTES + 1);
            }
            if (bytes == null || bytes.length > MAX_BYTES) {
                throw NeurotomeException.badInput(file + ": " + (bytes == null ? size + " bytes" : "more than " + MAX_BYTES
                        + " bytes") + "; allowed: at most " + MAX_BYTES + " bytes (1 MiB) for a YAML document");
            }
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (NoSuchFileException e) {
            throw NeurotomeException.badInput(file + ": no such file");
        } catch (java.nio.charset.CharacterCodingException e) {
            throw NeurotomeException.badInput(file + ": not UTF-8 text");
        } catch (IOException e) {
            throw NeurotomeException.badInput(file + ": cannot read: " + NeurotomeException.reason(e));
        }
    }

    private NeurotomeException translate(JsonMappingException e, SourceTree tree) {
        JsonPointer pointer = pointerOf(e.getPath());
        SchemaViolation violation = null;
        for (Throwable t = e; t != null && violation == null; t = t.getCause()) {
            if (t instanceof NeurotomeException ne) {
                return ne;
            }
            if (t instanceof SchemaViolation v) {
                violation = v;
            }
        }
        if (e instanceof ValueInstantiationException vie) {
            // Jackson builds a record before it reports the unknown keys it buffered; a misspelt
            // required key is better reported as the unknown key it is
            JsonNode node = tree.node(pointer);
            Class<?> type = vie.getType().getRawClass();
            String unknown = node instanceof ObjectNode obj ? unknownKey(obj, type) : null;
            if (unknown != null) {
                violation = unknownKeyViolation(unknown, keysOf(type)).at(unknown);
            }
        }
        if (violation != null) {
            JsonPointer at = pointer;
            for (String segment : violation.path()) {
                at = at.appendProperty(segment);
            }
            if (violation.isAtKey()) {
                return tree.error(tree.keyPosition(at), violation.describe(tree.place(at.head(), true)));
            }
            return tree.error(tree.valuePosition(at), violation.describe(tree.place(at, violation.isAboutMapping())));
        }
        JsonNode node = tree.node(pointer);
        String place = tree.place(pointer, false);
        if (e instanceof UnrecognizedPropertyException u) {
            List<String> known = keysOf(u.getReferringClass());
            if (known.isEmpty()) {
                known = u.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
            }
            return tree.error(tree.keyPosition(pointer),
                    unknownKeyViolation(u.getPropertyName(), known).describe(tree.place(pointer.head(), true)));
        }
        if (e instanceof InvalidFormatException f && f.getTargetType() != null && f.getTargetType().isEnum()) {
            List<String> names = enumNames(f.getTargetType());
            String bad = String.valueOf(f.getValue());
            return tree.error(tree.valuePosition(pointer),
                    SchemaViolation.of("invalid value").gotText(SourceTree.describe(node))
                            .allowedWords(bad, names).describe(place));
        }
        if (e instanceof MismatchedInputException m) {
            return tree.error(tree.valuePosition(pointer), SchemaViolation.of("wrong type")
                    .gotText(SourceTree.describe(node)).allowed(describeType(m.getTargetType())).describe(place));
        }
        return tree.error(tree.valuePosition(pointer), "invalid value " + place + ": " + e.getOriginalMessage());
    }

    /** The "unknown key" violation for {@code key} in a mapping allowing {@code allowed}. */
    static SchemaViolation unknownKeyViolation(String key, List<String> allowed) {
        return SchemaViolation.of("unknown key").atKey().got(key).allowedWords(key, allowed);
    }

    /** The first key of {@code node}, in document order, that record {@code type} does not declare. */
    static String unknownKey(ObjectNode node, Class<?> type) {
        List<String> keys = keysOf(type);
        if (keys.isEmpty()) {
            return null;
        }
        for (Map.Entry<String, JsonNode> property : node.properties()) {
            if (!keys.contains(property.getKey())) {
                return property.getKey();
            }
        }
        return null;
    }

    private static JsonPointer pointerOf(List<JsonMappingException.Reference> path) {
        JsonPointer p = JsonPointer.empty();
        for (JsonMappingException.Reference r : path) {
            p = r.getFieldName() != null ? p.appendProperty(r.getFieldName()) : p.appendIndex(r.getIndex());
        }
        return p;
    }

    private List<String> enumNames(Class<?> enumType) {
        List<String> names = new ArrayList<>();
        for (Object c : enumType.getEnumConstants()) {
            names.add(mapper.convertValue(c, String.class));
        }
        return names;
    }

    /** What a Java type looks like in YAML, for "allowed:". */
    private String describeType(Class<?> t) {
        if (t == null) {
            return "a value of another type";
        }
        if (t == Integer.class || t == int.class || t == Long.class || t == long.class || t == BigInteger.class) {
            return "a whole number";
        }
        if (t == Double.class || t == double.class || t == Float.class || t == float.class || t == BigDecimal.class) {
            return "a number";
        }
        if (t == Boolean.class || t == boolean.class) {
            return "true or false";
        }
        if (CharSequence.class.isAssignableFrom(t)) {
            return "text";
        }
        if (t.isEnum()) {
            return String.join(", ", enumNames(t));
        }
        if (Collection.class.isAssignableFrom(t) || t.isArray()) {
            return "a list";
        }
        if (t.isRecord()) {
            return "a mapping with keys " + String.join(", ", keysOf(t));
        }
        return "a mapping";
    }

    /** Text resolved against the document's folder; the path need not exist yet. */
    private static final class PathDeserializer extends NodeDeserializer<Path> {
        PathDeserializer() {
            super(Path.class);
        }

        @Override
        protected Path read(JsonNode n, DeserializationContext ctxt) {
            if (!n.isTextual() || n.asText().isBlank()) {
                throw SchemaViolation.wrongType(n, "a path (text)");
            }
            return resolve(ctxt, n.asText());
        }
    }
}
