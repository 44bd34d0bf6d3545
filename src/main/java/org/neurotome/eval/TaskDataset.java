package org.neurotome.eval;

import java.nio.file.Path;
import java.util.List;

/**
 * The cases of one task as read from its data set: the file, the SHA-256 of its bytes (as
 * read, before any filter), and the kept cases in file order with their 1-based line numbers.
 */
public record TaskDataset(Path file, String sha256, List<EvalCase> cases, List<Integer> lines) {

    public TaskDataset {
        cases = List.copyOf(cases);
        lines = List.copyOf(lines);
        if (cases.size() != lines.size()) {
            throw new IllegalArgumentException(cases.size() + " cases but " + lines.size() + " line numbers");
        }
    }

    /** {@code file:line} of case {@code i}, for messages. */
    public String where(int i) {
        return file + ":" + lines.get(i);
    }
}
