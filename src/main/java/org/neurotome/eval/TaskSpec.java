package org.neurotome.eval;

import org.neurotome.NeurotomeException;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SequencedMap;

/**
 * One task of an evaluation run: which metrics to compute ({@code kind}), on which JSONL data
 * set, restricted to which cases.
 *
 * @param id      the prefix of the task's metric names ({@code arithmetic} gives
 *                {@code arithmetic.accuracy}): a letter, then letters, digits, {@code _} or {@code -}
 * @param kind    what is measured
 * @param dataset the JSONL file of cases
 * @param filters label name to the values kept (integers written in decimal); a case is kept
 *                when, for every filter, its label's value is one of the listed values; kept in
 *                the given map's iteration order
 * @param limit   at most this many cases, the first ones in file order after filtering (for
 *                paired kinds whole pairs only); empty: all
 */
public record TaskSpec(String id, TaskKind kind, Path dataset, SequencedMap<String, List<String>> filters,
                       OptionalInt limit) {

    public TaskSpec {
        if (!id.matches("[A-Za-z][A-Za-z0-9_-]*")) {
            throw NeurotomeException.badInput("task id '" + id
                    + "' is not allowed; use a letter, then letters, digits, '_' or '-' (it prefixes metric names)");
        }
        if (limit.isPresent() && limit.getAsInt() < 1) {
            throw NeurotomeException.badInput("task '" + id + "': limit must be at least 1, got " + limit.getAsInt());
        }
        SequencedMap<String, List<String>> copy = new LinkedHashMap<>();
        filters.forEach((label, values) -> {
            if (values.isEmpty()) {
                throw NeurotomeException.badInput("task '" + id + "': filter on label '" + label + "' lists no value");
            }
            copy.put(label, List.copyOf(values));
        });
        filters = Collections.unmodifiableSequencedMap(copy);
    }

    /** A task with filters in any map (copied in its iteration order) and an optional limit (null: none). */
    public static TaskSpec of(String id, TaskKind kind, Path dataset, Map<String, List<String>> filters, Integer limit) {
        return new TaskSpec(id, kind, dataset, new LinkedHashMap<>(filters),
                limit == null ? OptionalInt.empty() : OptionalInt.of(limit));
    }

    /** A task named after its kind, on every case of {@code dataset}. */
    public static TaskSpec of(TaskKind kind, Path dataset) {
        return new TaskSpec(kind.yamlName(), kind, dataset, new LinkedHashMap<>(), OptionalInt.empty());
    }

    /** The same task with at most {@code n} cases (the tighter of its own limit and {@code n}). */
    public TaskSpec withLimit(int n) {
        int tighter = limit.isPresent() ? Math.min(limit.getAsInt(), n) : n;
        return new TaskSpec(id, kind, dataset, filters, OptionalInt.of(tighter));
    }
}
