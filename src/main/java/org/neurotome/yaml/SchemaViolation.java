package org.neurotome.yaml;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A document value that breaks its schema, thrown by record compact constructors and custom
 * deserializers. It knows where it happened only relative to the object or value that threw it
 * ({@link #path()}); {@link StrictYaml} adds the document path and turns it into a positioned
 * {@code file:line:column: <problem> at <path>; got <value>; allowed: <values>} message.
 *
 * <pre>{@code
 * throw SchemaViolation.of("invalid value").at("factor").got(factor).allowed("a finite number");
 * }</pre>
 */
public final class SchemaViolation extends IllegalArgumentException {
    private final String problem;
    private final List<String> path = new ArrayList<>();
    private String got;
    private String allowed;
    private String suggestion;
    private boolean atKey;
    private boolean aboutMapping;

    private SchemaViolation(String problem) {
        super(problem);
        this.problem = problem;
    }

    /** A violation described by {@code problem}, e.g. "invalid value" or "unknown reference". */
    public static SchemaViolation of(String problem) {
        return new SchemaViolation(problem);
    }

    /** A node of the wrong kind: what it is, and what {@code allowed} says may stand there. */
    public static SchemaViolation wrongType(JsonNode node, String allowed) {
        return new SchemaViolation("wrong type").gotText(SourceTree.describe(node)).allowed(allowed);
    }

    /** A required key absent from the mapping that throws this; {@code meaning} says what it holds. */
    public static SchemaViolation missingKey(String key, String meaning) {
        return new SchemaViolation("missing required key '" + key + "' (" + meaning + ")").aboutMapping();
    }

    /**
     * Throws unless exactly one of {@code keys} is given (its value in {@code values}, in the
     * same order, is not null): none is "missing KIND: one of MISSING", two or more "conflicting
     * KINDs" at the second.
     */
    public static void requireOneOf(String kind, String missing, List<String> keys, Object... values) {
        List<String> given = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            if (values[i] != null) {
                given.add(keys.get(i));
            }
        }
        if (given.isEmpty()) {
            throw of("missing " + kind + ": one of " + missing).aboutMapping();
        }
        if (given.size() > 1) {
            throw of("conflicting " + kind + "s").at(given.get(1)).gotText(String.join(" and ", given))
                    .allowed("one of " + String.join(", ", keys));
        }
    }

    /** Appends keys (strings) or list indices (integers) to the path below the thrower. */
    public SchemaViolation at(Object... segments) {
        for (Object s : segments) {
            path.add(String.valueOf(s));
        }
        return this;
    }

    /** The offending value, quoted when it is text. */
    public SchemaViolation got(Object value) {
        this.got = quote(value);
        return this;
    }

    /** The offending value, already formatted. */
    public SchemaViolation gotText(String text) {
        this.got = text;
        return this;
    }

    /** What would have been accepted, in words or as a list. */
    public SchemaViolation allowed(String text) {
        this.allowed = text;
        return this;
    }

    /** The allowed words, listed, and the closest one to {@code input} as a suggestion. */
    public SchemaViolation allowedWords(String input, Collection<String> words) {
        this.allowed = String.join(", ", words);
        this.suggestion = input == null ? null : Suggestions.closest(input, words).orElse(null);
        return this;
    }

    /** Marks the violation as being about the key itself (an unknown key), positioned at the key. */
    public SchemaViolation atKey() {
        this.atKey = true;
        return this;
    }

    /**
     * Marks the violation as being about the mapping at its path as a whole (a key missing from
     * it, keys that conflict), so messages say "in edit.1" rather than "at edit.1".
     */
    public SchemaViolation aboutMapping() {
        this.aboutMapping = true;
        return this;
    }

    /** The path below the object or value that threw, as keys and list indices. */
    public List<String> path() {
        return List.copyOf(path);
    }

    /** Formats the violation with {@code place}, e.g. "at edit.1.factor" or "in output". */
    public String describe(String place) {
        StringBuilder sb = new StringBuilder(problem);
        if (place != null && !place.isEmpty()) {
            sb.append(' ').append(place);
        }
        if (got != null) {
            sb.append("; got ").append(got);
        }
        if (allowed != null) {
            sb.append("; allowed: ").append(allowed);
        }
        if (suggestion != null) {
            sb.append("; did you mean '").append(suggestion).append("'?");
        }
        return sb.toString();
    }

    boolean isAtKey() {
        return atKey;
    }

    boolean isAboutMapping() {
        return aboutMapping;
    }

    @Override
    public String getMessage() {
        return describe(path.isEmpty() ? "" : "at " + String.join(".", path));
    }

    /** A value as messages show it: text in single quotes, anything else as written. */
    public static String quote(Object value) {
        if (value == null) {
            return "nothing";
        }
        return value instanceof CharSequence ? "'" + value + "'" : String.valueOf(value);
    }
}
