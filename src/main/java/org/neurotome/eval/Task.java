package org.neurotome.eval;

import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * One task of an eval suite: a dataset of cases scored one way. Its id prefixes every metric it
 * reports ({@code <id>.accuracy}), so gates name tasks by id.
 *
 * @param id      the metric prefix; defaults to the kind's name
 * @param kind    how the cases are scored
 * @param dataset the JSONL file of cases, resolved against the suite's folder
 * @param where   which cases to keep, by label (all when absent)
 * @param limit   at most this many cases (the first ones kept, in file order); null = all
 */
public record Task(String id, TaskKind kind, Path dataset, LabelFilter where, Integer limit) {
    static final Pattern ID = Pattern.compile("[A-Za-z][A-Za-z0-9_-]*");

    public Task {
        if (kind == null) {
            throw SchemaViolation.missingKey("kind", "how the task is scored").allowedWords(null, kindNames());
        }
        if (id == null) {
            id = kind.yamlName();
        } else if (!ID.matcher(id).matches()) {
            throw SchemaViolation.of("invalid task id").at("id").got(id)
                    .allowed("a letter, then letters, digits, '_' or '-' (no dots: ids prefix metric names)");
        }
        if (dataset == null) {
            throw SchemaViolation.missingKey("dataset", "the JSONL file of cases");
        }
        if (where == null) {
            where = LabelFilter.ALL;
        }
        if (limit != null && limit < 1) {
            throw SchemaViolation.of("invalid value").at("limit").got(limit).allowed("a whole number >= 1");
        }
    }

    private static List<String> kindNames() {
        return Arrays.stream(TaskKind.values()).map(TaskKind::yamlName).toList();
    }
}
