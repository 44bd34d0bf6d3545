package org.neurotome.eval;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.SequencedMap;

/**
 * One evaluation case: a prompt, the text that should follow it, and labels that say which
 * slice of a metric the case belongs to (docs/method.md A6). {@code prompt + target} is the whole
 * sentence; a scorer tokenizes it, takes the tokens after those of the prompt as the target
 * tokens and scores each one teacher-forced. Label values are strings or integers, kept in
 * insertion order so that a written data set is byte-for-byte reproducible.
 */
public record EvalCase(String prompt, String target, SequencedMap<String, Object> labels) {

    public EvalCase {
        if (prompt.isEmpty() || Character.isWhitespace(prompt.charAt(prompt.length() - 1))) {
            throw new IllegalArgumentException("prompt must be non-empty and not end in whitespace: '" + prompt + "'");
        }
        if (target.isBlank()) {
            throw new IllegalArgumentException("target of '" + prompt + "' must contain text");
        }
        for (var e : labels.entrySet()) {
            if (!(e.getValue() instanceof String || e.getValue() instanceof Integer)) {
                throw new IllegalArgumentException("label '" + e.getKey() + "' must be a string or an integer, was " + e.getValue());
            }
        }
        labels = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(labels));
    }

    /** The full sentence: prompt followed by target. */
    public String text() {
        return prompt + target;
    }

    /** A string label; fails if it is absent or not a string. */
    public String label(String key) {
        if (labels.get(key) instanceof String s) {
            return s;
        }
        throw new IllegalArgumentException("case '" + prompt + "' has no string label '" + key + "'");
    }

    /** An integer label; fails if it is absent or not an integer. */
    public int intLabel(String key) {
        if (labels.get(key) instanceof Integer i) {
            return i;
        }
        throw new IllegalArgumentException("case '" + prompt + "' has no integer label '" + key + "'");
    }

    /** Builds label maps in a fixed key order. */
    public static final class Labels {
        private final SequencedMap<String, Object> map = new LinkedHashMap<>();

        public Labels put(String key, String value) {
            map.put(key, value);
            return this;
        }

        public Labels put(String key, int value) {
            map.put(key, value);
            return this;
        }

        public SequencedMap<String, Object> build() {
            return map;
        }
    }
}
