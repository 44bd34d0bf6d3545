package org.neurotome.yaml;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BigIntegerNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import org.neurotome.NeurotomeException;
import org.yaml.snakeyaml.error.MarkedYAMLException;

import java.io.IOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A YAML document read once into a Jackson tree, remembering the position of every key and
 * value by JSON pointer, so that errors found later — while binding to records or while checking
 * references — still say {@code file:line:column}. Duplicate keys, anchors and aliases are
 * rejected while reading.
 * Floating-point scalars keep their written digits ({@code 17.20} stays distinct from
 * {@code 17.2}), which head and neuron ids such as {@code 17.20} rely on.
 *
 * <p>{@link #override} applies a {@code --set key.path=value} edit to the tree before binding;
 * values it supplies are positioned at the override rather than in the file.
 */
public final class SourceTree {
    private static final YAMLFactory YAML = YAMLFactory.builder()
            // YAML 1.2 booleans: only true/false; "yes", "no", "on", "off" stay text
            .enable(YAMLParser.Feature.PARSE_BOOLEAN_LIKE_WORDS_AS_STRINGS)
            .build();

    /** The deepest nesting a document may have: far more than any recipe or suite needs. */
    static final int MAX_DEPTH = 64;

    private final String file;
    /** When set, the position of everything in this tree: it is the value of a {@code --set}. */
    private final Position fixed;
    private JsonNode root;
    private final Map<String, Position> values = new HashMap<>();
    private final Map<String, Position> keys = new HashMap<>();

    private SourceTree(String file, Position fixed) {
        this.file = file;
        this.fixed = fixed;
    }

    /** Reads {@code text} (the content of {@code file}); a syntax error or duplicate key is BAD_INPUT. */
    public static SourceTree parse(String file, String text) {
        return read(new SourceTree(file, null), text);
    }

    /** Reads a {@code --set} value; every position, errors included, is the override's. */
    private static SourceTree parseValue(Position override, String text) {
        return read(new SourceTree(override.file(), override), text);
    }

    private static SourceTree read(SourceTree tree, String text) {
        try (JsonParser p = YAML.createParser(text)) {
            if (p.nextToken() == null) {
                tree.root = NullNode.getInstance();
                tree.values.put("", tree.position(null));
                return tree;
            }
            tree.root = tree.read(p, JsonPointer.empty());
            if (p.nextToken() != null) {
                throw tree.error(tree.position(p.currentTokenLocation()),
                        "a second YAML document in one file; allowed: one document (remove the '---' line)");
            }
        } catch (JsonProcessingException e) {
            throw tree.error(tree.position(e.getLocation()), "YAML syntax error: " + syntaxProblem(e));
        } catch (IOException e) {
            throw NeurotomeException.badInput(tree.file + ": cannot read: " + NeurotomeException.reason(e));
        } catch (StackOverflowError e) {
            // SnakeYAML's scanner recurses on flow collections before our depth check sees them
            throw tree.error(tree.position(null), "nested too deeply; allowed: at most " + MAX_DEPTH + " levels");
        }
        return tree;
    }

    public String file() {
        return file;
    }

    public JsonNode root() {
        return root;
    }

    /** The node at {@code pointer}, or null when the document has none there. */
    public JsonNode node(JsonPointer pointer) {
        JsonNode n = root.at(pointer);
        return n.isMissingNode() ? null : n;
    }

    /** Where the value at {@code pointer} was written, or of its nearest written ancestor. */
    public Position valuePosition(JsonPointer pointer) {
        for (JsonPointer p = pointer; p != null; p = p.head()) {
            Position pos = values.get(p.toString());
            if (pos != null) {
                return pos;
            }
        }
        return Position.inFile(file, 1, 1);
    }

    /** Where the key of the value at {@code pointer} was written (its value's position if none). */
    public Position keyPosition(JsonPointer pointer) {
        Position pos = keys.get(pointer.toString());
        return pos != null ? pos : valuePosition(pointer);
    }

    /**
     * Says where {@code pointer} is, for messages: "in edit.1 (op: scale-neurons)" for a problem
     * with a mapping's keys (labelled by its id or op when it is a list item), "at output.dtype"
     * for a problem with a value, "at the top level" for the document itself.
     */
    public String place(JsonPointer pointer, boolean mapping) {
        if (pointer.matches()) {
            return "at the top level";
        }
        if (!mapping) {
            return "at " + dotted(pointer);
        }
        JsonNode n = node(pointer);
        JsonNode parent = node(pointer.head());
        String label = n instanceof ObjectNode obj && parent != null && parent.isArray() ? label(obj) : "";
        return "in " + dotted(pointer) + label;
    }

    /** A BAD_INPUT error positioned at {@code position}. */
    public NeurotomeException error(Position position, String message) {
        return NeurotomeException.badInput(position + ": " + message);
    }

    /**
     * Applies {@code --set key=value}: {@code key} is a dotted path ({@code output.dir},
     * {@code locate.0.top}, or a list item by its id: {@code locate.scan.top}); {@code value} is
     * read as YAML (a scalar, or a flow list such as {@code [17.22, 14.19]}). Missing mappings
     * on the way are created, so a key the file leaves at its default can be set; whether the key
     * exists in the schema is decided when the tree is bound.
     */
    public void override(String key, String value) {
        Position at = Position.ofOverride(file, key, value);
        if (!(root instanceof ObjectNode)) {
            throw error(at, "cannot apply an override; the document is not a mapping");
        }
        String[] segments = key.split("\\.", -1);
        for (String s : segments) {
            if (s.isBlank()) {
                throw error(at, "empty key segment in override; got '" + key
                        + "'; allowed: dotted keys such as output.dir or edit.1.factor");
            }
        }
        JsonNode replacement = parseValue(at, value).root;
        JsonNode current = root;
        JsonPointer pointer = JsonPointer.empty();
        for (int i = 0; i < segments.length; i++) {
            boolean last = i == segments.length - 1;
            String segment = segments[i];
            if (current instanceof ObjectNode obj) {
                pointer = pointer.appendProperty(segment);
                JsonNode next = obj.get(segment);
                if (last) {
                    next = replacement;
                    obj.set(segment, next);
                    replacePositions(pointer, at);
                } else if (next == null || next.isNull()) {
                    next = obj.putObject(segment);
                    replacePositions(pointer, at);
                }
                current = next;
            } else if (current instanceof ArrayNode list) {
                int index = itemIndex(list, segment);
                if (index < 0) {
                    throw error(at, "no such item in " + dotted(pointer) + "; got '" + segment + "'; allowed: "
                            + itemNames(list));
                }
                pointer = pointer.appendIndex(index);
                if (last) {
                    list.set(index, replacement);
                    replacePositions(pointer, at);
                }
                current = list.get(index);
            } else {
                throw error(at, "cannot set a key below " + dotted(pointer) + "; it is "
                        + describe(current) + ", not a mapping or list");
            }
        }
    }

    private static int depth(JsonPointer pointer) {
        int n = 0;
        for (JsonPointer p = pointer; p != null && !p.matches(); p = p.tail()) {
            n++;
        }
        return n;
    }

    /** A JSON pointer written as the dotted path users write in {@code --set}: edit.1.factor. */
    public static String dotted(JsonPointer pointer) {
        List<String> segments = new ArrayList<>();
        for (JsonPointer p = pointer; p != null && !p.matches(); p = p.tail()) {
            segments.add(p.getMatchingProperty());
        }
        return String.join(".", segments);
    }

    /** The JSON pointer of a dotted path such as {@code locate.0.dataset}. */
    public static JsonPointer pointer(String dotted) {
        JsonPointer p = JsonPointer.empty();
        if (!dotted.isEmpty()) {
            for (String s : dotted.split("\\.")) {
                p = p.appendProperty(s);
            }
        }
        return p;
    }

    /** A value as messages show it: 'text', 17.22, true, or its shape (a mapping, a list, nothing). */
    public static String describe(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return "nothing";
        }
        if (n.isObject()) {
            return "a mapping";
        }
        if (n.isArray()) {
            return "a list";
        }
        return n.isTextual() ? "'" + n.asText() + "'" : n.asText();
    }

    private JsonNode read(JsonParser p, JsonPointer at) throws IOException {
        values.put(at.toString(), position(p.currentTokenLocation()));
        if (depth(at) > MAX_DEPTH) {
            throw error(position(p.currentTokenLocation()), "nested too deeply at " + dotted(at.head())
                    + "; allowed: at most " + MAX_DEPTH + " levels");
        }
        JsonToken token = p.currentToken();
        // Jackson reads an alias as the text of its name and drops anchors: both would bind silently wrong
        if (p instanceof YAMLParser y && y.isCurrentAlias()) {
            throw error(position(p.currentTokenLocation()), "YAML alias '*" + p.getText() + "' "
                    + (at.matches() ? "as the document" : "at " + dotted(at)) + "; allowed: the value written out"
                    + " (anchors and aliases are not supported)");
        }
        if (p.getObjectId() != null) {
            throw error(position(p.currentTokenLocation()), "YAML anchor '&" + p.getObjectId() + "' "
                    + (at.matches() ? "on the document" : "at " + dotted(at)) + "; allowed: the value written out"
                    + " (anchors and aliases are not supported)");
        }
        switch (token) {
            case START_OBJECT -> {
                ObjectNode obj = JsonNodeFactory.instance.objectNode();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    JsonPointer child = at.appendProperty(key);
                    Position keyAt = position(p.currentTokenLocation());
                    if (obj.has(key)) {
                        Position first = keys.get(child.toString());
                        // the tree is still being built: name the mapping by its path alone
                        String where = at.matches() ? "at the top level" : "in " + dotted(at);
                        throw error(keyAt, "duplicate key " + where + "; got '" + key
                                + "' again (first at line " + first.line() + ")");
                    }
                    keys.put(child.toString(), keyAt);
                    p.nextToken();
                    obj.set(key, read(p, child));
                }
                return obj;
            }
            case START_ARRAY -> {
                ArrayNode list = JsonNodeFactory.instance.arrayNode();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    list.add(read(p, at.appendIndex(list.size())));
                }
                return list;
            }
            case VALUE_STRING -> {
                return TextNode.valueOf(p.getText());
            }
            case VALUE_NUMBER_INT -> {
                return switch (p.getNumberType()) {
                    case INT -> IntNode.valueOf(p.getIntValue());
                    case LONG -> LongNode.valueOf(p.getLongValue());
                    default -> BigIntegerNode.valueOf(p.getBigIntegerValue());
                };
            }
            case VALUE_NUMBER_FLOAT -> {
                return decimal(p);
            }
            case VALUE_TRUE, VALUE_FALSE -> {
                return BooleanNode.valueOf(token == JsonToken.VALUE_TRUE);
            }
            case VALUE_NULL -> {
                return NullNode.getInstance();
            }
            default -> throw error(values.get(at.toString()), "unsupported YAML value " + place(at, false)
                    + "; got " + token + "; allowed: mappings, lists, text, numbers, true/false");
        }
    }

    /** Keeps the written digits: 17.20 and 17.2 are different head ids. */
    private static JsonNode decimal(JsonParser p) throws IOException {
        String text = p.getText();
        try {
            return DecimalNode.valueOf(new BigDecimal(text));
        } catch (NumberFormatException e) {
            // YAML's special floats, which have no decimal form
            return switch (text.toLowerCase(Locale.ROOT)) {
                case ".nan" -> DoubleNode.valueOf(Double.NaN);
                case ".inf", "+.inf" -> DoubleNode.valueOf(Double.POSITIVE_INFINITY);
                case "-.inf" -> DoubleNode.valueOf(Double.NEGATIVE_INFINITY);
                default -> DoubleNode.valueOf(p.getDoubleValue());
            };
        }
    }

    private void replacePositions(JsonPointer pointer, Position at) {
        String prefix = pointer + "/";
        values.keySet().removeIf(k -> k.startsWith(prefix));
        keys.keySet().removeIf(k -> k.startsWith(prefix));
        values.put(pointer.toString(), at);
        keys.put(pointer.toString(), at);
    }

    private static int itemIndex(ArrayNode list, String segment) {
        if (segment.chars().allMatch(Character::isDigit)) {
            int i = Integer.parseInt(segment);
            return i < list.size() ? i : -1;
        }
        for (int i = 0; i < list.size(); i++) {
            JsonNode id = list.get(i).get("id");
            if (id != null && id.isTextual() && id.asText().equals(segment)) {
                return i;
            }
        }
        return -1;
    }

    private static String itemNames(ArrayNode list) {
        if (list.isEmpty()) {
            return "nothing (the list is empty)";
        }
        List<String> names = new ArrayList<>();
        names.add(list.size() == 1 ? "0" : "0-" + (list.size() - 1));
        for (JsonNode item : list) {
            JsonNode id = item.get("id");
            if (id != null && id.isTextual()) {
                names.add(id.asText());
            }
        }
        return String.join(", ", names);
    }

    private static String label(ObjectNode obj) {
        for (String key : List.of("id", "op")) {
            JsonNode v = obj.get(key);
            if (v != null && v.isValueNode() && !v.isNull()) {
                return " (" + key + ": " + v.asText() + ")";
            }
        }
        return "";
    }

    private Position position(JsonLocation location) {
        if (fixed != null) {
            return fixed;
        }
        if (location == null) {
            return Position.inFile(file, 1, 1);
        }
        return Position.inFile(file, Math.max(1, location.getLineNr()), Math.max(1, location.getColumnNr()));
    }

    /** SnakeYAML's problem ("expected ',' or ']'"), with its context ("while parsing a flow sequence"). */
    private static String syntaxProblem(JsonProcessingException e) {
        if (e.getCause() instanceof MarkedYAMLException m && m.getProblem() != null) {
            String problem = m.getProblem();
            if (m.getContext() != null && m.getContextMark() != null) {
                problem += " (" + m.getContext() + " at line " + (m.getContextMark().getLine() + 1)
                        + ", column " + (m.getContextMark().getColumn() + 1) + ")";
            }
            return problem;
        }
        String message = e.getOriginalMessage() == null ? "unreadable document" : e.getOriginalMessage();
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).trim();
    }
}
