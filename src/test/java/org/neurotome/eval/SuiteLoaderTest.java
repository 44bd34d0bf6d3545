package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SuiteLoaderTest {
    static final Path SUITES = Path.of("src/test/resources/suites");
    static final Path INVALID = SUITES.resolve("invalid");
    static final Path DATASETS = Path.of("src/test/resources/datasets");

    @Test
    void fullSuiteBindsTasksAndGates() {
        Suite s = SuiteLoader.load(SUITES.resolve("full.yaml"));
        assertEquals("full", s.name());
        assertEquals("arithmetic and gender on tiny datasets", s.description());
        assertEquals(List.of("arithmetic", "bias"), s.taskIds());

        Task arithmetic = s.tasks().get(0);
        assertEquals(TaskKind.ARITHMETIC, arithmetic.kind());
        assertEquals(DATASETS.resolve("arithmetic-mini.jsonl"), arithmetic.dataset());
        assertEquals(10, arithmetic.limit());
        assertEquals(Map.of("template", List.of("3"), "operation", List.of("+", "-")), arithmetic.where().labels());
        assertTrue(arithmetic.where().matches(Map.of("template", "3", "operation", "-")));
        assertTrue(!arithmetic.where().matches(Map.of("template", "3", "operation", "*")));
        assertTrue(!arithmetic.where().matches(Map.of("operation", "+")));

        Task bias = s.tasks().get(1);
        assertEquals(TaskKind.GENDER, bias.kind());
        assertEquals(LabelFilter.ALL, bias.where());
        assertNull(bias.limit());

        assertEquals(List.of(
                        "arithmetic.accuracy >= 0.9",
                        "arithmetic.accuracy.operation=+ > 0.5",
                        "arithmetic.accuracy.delta >= -0.01",
                        "bias.bias_gap.rel_change <= -0.3",
                        "arithmetic.accuracy not_worse p=0.01",
                        "arithmetic.accuracy not_worse p=0.05"),
                s.gates().stream().map(Gate::toString).toList());
    }

    private static String error(String name, boolean checkFiles) {
        Path file = INVALID.resolve(name);
        NeurotomeException e = assertThrows(NeurotomeException.class,
                () -> {
                    if (checkFiles) {
                        SuiteLoader.load(file);
                    } else {
                        SuiteLoader.parse(file);
                    }
                });
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        return e.getMessage();
    }

    @Test
    void unknownKeySuggestsTheClosestKey() {
        assertEquals(INVALID.resolve("unknown-key.yaml") + ":4:5: unknown key in tasks.0; got 'datset'; "
                + "allowed: id, kind, dataset, where, limit; did you mean 'dataset'?", error("unknown-key.yaml", false));
    }

    @Test
    void unknownTaskKindListsTheKinds() {
        assertEquals(INVALID.resolve("unknown-kind.yaml") + ":3:11: invalid value at tasks.0.kind; got 'arithmatic'; "
                        + "allowed: arithmetic, gender, pronoun, factual, language; did you mean 'arithmetic'?",
                error("unknown-kind.yaml", false));
    }

    @Test
    void wrongType() {
        assertEquals(INVALID.resolve("wrong-type.yaml") + ":5:12: wrong type at tasks.0.limit; got 'all'; "
                + "allowed: a whole number", error("wrong-type.yaml", false));
    }

    @Test
    void missingRequiredKey() {
        assertEquals(INVALID.resolve("missing-key.yaml") + ":3:5: missing required key 'dataset' "
                + "(the JSONL file of cases) in tasks.0", error("missing-key.yaml", false));
    }

    @Test
    void missingDatasetIsReportedOnlyByLoad() {
        assertEquals(INVALID.resolve("missing-dataset.yaml") + ":6:14: missing file at tasks.1.dataset; "
                + "got 'src/test/resources/datasets/no-such-language.jsonl'", error("missing-dataset.yaml", true));
        assertEquals(2, SuiteLoader.parse(INVALID.resolve("missing-dataset.yaml")).tasks().size());
    }

    @Test
    void malformedGateIsPositionedAtItsListItem() {
        assertEquals(INVALID.resolve("bad-gate.yaml") + ":7:5: invalid gate comparison '=>' at gates.1; "
                + "got 'arithmetic.accuracy => 0.9'; allowed: >=, <=, >, <", error("bad-gate.yaml", false));
    }

    @Test
    void gateOnAnUnknownTaskSuggestsATask() {
        assertEquals(INVALID.resolve("gate-unknown-task.yaml") + ":9:5: gate names an unknown task 'gendr' at "
                + "gates.1; got 'gendr.bias_gap.rel_change <= -0.3'; allowed: arithmetic, gender; "
                + "did you mean 'gender'?", error("gate-unknown-task.yaml", false));
    }

    @Test
    void gateThatIsNotAString() {
        assertEquals(INVALID.resolve("gate-not-text.yaml") + ":6:5: wrong type at gates.0; got a mapping; "
                + "allowed: a gate expression: " + Gate.SYNTAX, error("gate-not-text.yaml", false));
    }

    @Test
    void duplicateTaskIds() {
        assertEquals(INVALID.resolve("duplicate-task.yaml") + ":5:5: duplicate task id at tasks.1"
                + "; got 'arithmetic'; allowed: an id not used by tasks.0 (set 'id' to tell tasks of one kind apart)",
                error("duplicate-task.yaml", false));
    }

    @Test
    void labelFilterValuesAreScalars() {
        assertEquals(INVALID.resolve("bad-filter.yaml") + ":6:24: wrong type at tasks.0.where.operation.1; "
                + "got a mapping; allowed: a label value (text, number, true/false)", error("bad-filter.yaml", false));
    }

    @Test
    void emptyDocument() {
        assertEquals(INVALID.resolve("empty.yaml") + ":1:1: empty document; allowed: a mapping with keys "
                + "name, description, tasks, gates", error("empty.yaml", false));
    }
}
