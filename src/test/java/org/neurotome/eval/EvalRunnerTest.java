package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.Tool;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SequencedMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The runner: batching, progress, baseline pairing (McNemar counts), gates and failure modes. */
class EvalRunnerTest {
    @TempDir
    Path dir;

    /** Ten one-digit additions n+1= → n+1 (two-digit answer for n = 9 is "10"). */
    private TaskSpec additions() {
        List<EvalCase> cases = new ArrayList<>();
        for (int n = 0; n < 10; n++) {
            cases.add(Cases.of(n + "+1=", Integer.toString(n + 1), "operation", "+", "template", 3, "digits", 1));
        }
        return TaskSpec.of(TaskKind.ARITHMETIC, Cases.write(dir.resolve("add.jsonl"), cases));
    }

    private static TableScorer digits() {
        return new TableScorer("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
    }

    /**
     * A model that gets case n right exactly for the n listed: the answer's first digit gets weight
     * 5; otherwise the uniform arg-max is "0" (lowest id on ties), which no answer starts with, and
     * which is the right second token of "10".
     */
    private static TableScorer rightOn(int... ns) {
        TableScorer m = digits();
        for (int n : ns) {
            m.weight(n + "+1=", Integer.toString(n + 1).substring(0, 1), 5);
        }
        return m;
    }

    private static EvaluatedModel model(String name, CaseScorer scorer) {
        return new EvaluatedModel(new ModelInfo(name, "0".repeat(64)), scorer);
    }

    @Test
    void scoresInBatchesAndReportsProgressAfterEach() {
        TableScorer candidate = rightOn(0, 1, 2);
        TableScorer baseline = rightOn(0);
        List<String> events = new ArrayList<>();
        EvalReport r = new EvalRunner(4, (task, model, done, total) -> events.add(task + " " + model + " " + done + "/" + total))
                .run(model("cand", candidate), Optional.of(model("base", baseline)), List.of(additions()), (m, b, p) -> List.of(), 1);
        assertEquals(List.of(4, 4, 2), candidate.batchSizes);
        assertEquals(List.of(4, 4, 2), baseline.batchSizes);
        assertEquals(List.of("arithmetic candidate 0/10", "arithmetic candidate 4/10", "arithmetic candidate 8/10",
                "arithmetic candidate 10/10", "arithmetic baseline 0/10", "arithmetic baseline 4/10",
                "arithmetic baseline 8/10", "arithmetic baseline 10/10"), events);
        assertEquals(0.3, r.metrics().get("arithmetic.accuracy"), 1e-12);
        assertEquals(0.1, r.baselineMetrics().get("arithmetic.accuracy"), 1e-12);
        assertEquals(0.2, r.comparison().get("arithmetic.accuracy.delta"), 1e-12);
        assertEquals(Tool.version(), r.toolVersion());
        assertEquals(List.of("candidate", "baseline"), r.timings().stream().map(TaskTiming::model).toList());
        assertEquals(3, r.timings().getFirst().batches());
    }

    @Test
    void pairsPerCaseCorrectnessForMcNemar() {
        // case:       0 1 2 3 4 5 6 7 8 9
        // baseline:   ✓ ✓ ✓ ✓ . . . . . ✓
        // candidate:  ✓ . . ✓ ✓ . . . . .
        TableScorer baseline = rightOn(0, 1, 2, 3, 9);
        TableScorer candidate = rightOn(0, 3, 4);
        List<SequencedMap<String, DiscordantPairs>> seen = new ArrayList<>();
        EvalReport r = new EvalRunner(3, (t, m, d, n) -> { })
                .run(model("cand", candidate), Optional.of(model("base", baseline)), List.of(additions()), (m, b, p) -> {
                    seen.add(p);
                    return List.of(new GateResult("arithmetic.accuracy.delta >= -0.01", "arithmetic.accuracy", ">=", -0.01,
                            m.get("arithmetic.accuracy") - b.get("arithmetic.accuracy"), false, null));
                }, 1);
        // both right {0, 3}; baseline only {1, 2, 9}; candidate only {4}; neither {5, 6, 7, 8}
        PairedCounts expected = new PairedCounts(2, 3, 1, 4);
        assertEquals(expected, r.paired().get("arithmetic.accuracy"));
        assertEquals(new DiscordantPairs(3, 1), seen.getFirst().get("arithmetic.accuracy"));
        assertEquals(expected, r.paired().get("arithmetic.accuracy.op=+"));
        assertEquals(expected, r.paired().get("arithmetic.accuracy.op=+.digits=1"));
        assertFalse(r.passed());
        assertEquals(List.of("arithmetic.accuracy.delta >= -0.01"), r.failedGates().stream().map(GateResult::name).toList());
    }

    @Test
    void withoutBaselineThereIsNoComparison() {
        EvalReport r = new EvalRunner(8, (t, m, d, n) -> { })
                .run(model("cand", rightOn(1)), Optional.empty(), List.of(additions()), (m, b, p) -> {
                    assertTrue(b.isEmpty() && p.isEmpty());
                    return List.of(new GateResult("arithmetic.accuracy >= 0.1", "arithmetic.accuracy", ">=", 0.1,
                            m.get("arithmetic.accuracy"), true, null));
                }, 1);
        assertTrue(r.baselineMetrics().isEmpty());
        assertTrue(r.comparison().isEmpty());
        assertTrue(r.paired().isEmpty());
        assertTrue(r.baseline().isEmpty());
        assertTrue(r.tasks().getFirst().baseline().isEmpty());
        assertTrue(r.passed());
    }

    @Test
    void everyDataSetIsReadBeforeAnythingIsScored() {
        TableScorer candidate = rightOn();
        TaskSpec broken = TaskSpec.of(TaskKind.FACTUAL, Cases.writeText(dir.resolve("factual.jsonl"), "{\"prompt\":1}\n"));
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> new EvalRunner(4, (t, m, d, n) -> { })
                .run(model("cand", candidate), Optional.empty(), List.of(additions(), broken), (m, b, p) -> List.of(), 1));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().startsWith(dir.resolve("factual.jsonl") + ":1: "), e.getMessage());
        assertTrue(candidate.batchSizes.isEmpty(), "nothing scored");
    }

    @Test
    void rejectsDuplicateTaskNamesAndNoTasks() {
        EvalRunner runner = new EvalRunner(4, (t, m, d, n) -> { });
        NeurotomeException dup = assertThrows(NeurotomeException.class, () -> runner.run(model("c", rightOn()),
                Optional.empty(), List.of(additions(), additions()), (m, b, p) -> List.of(), 1));
        assertTrue(dup.getMessage().contains("two tasks have the id 'arithmetic'"));
        assertThrows(NeurotomeException.class, () -> runner.run(model("c", rightOn()), Optional.empty(), List.of(),
                (m, b, p) -> List.of(), 1));
        assertThrows(NeurotomeException.class, () -> new EvalRunner(0, (t, m, d, n) -> { }));
    }

    @Test
    void aScorerReturningTheWrongNumberOfScoresIsAnInternalError() {
        CaseScorer dropsOne = batch -> digits().score(batch.subList(1, batch.size()));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new EvalRunner(4, (t, m, d, n) -> { })
                .run(model("c", dropsOne), Optional.empty(), List.of(additions()), (m, b, p) -> List.of(), 1));
        assertTrue(e.getMessage().contains("returned 3 scores (or a null) for a batch of 4 cases"), e.getMessage());
    }
}
