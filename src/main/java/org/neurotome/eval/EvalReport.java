package org.neurotome.eval;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.function.Function;

/**
 * Everything one evaluation run produced, from which {@link ReportWriter} writes
 * {@code report.json} and {@code report.html} and {@link SummaryTable} prints the summary.
 *
 * @param toolVersion     the neurotome version that ran
 * @param seed            the seed of the suite (recorded for provenance)
 * @param model           the candidate
 * @param baseline        the baseline, if one was given
 * @param tasks           every task, in suite order
 * @param metrics         the candidate's metrics of all tasks
 * @param baselineMetrics the baseline's metrics (empty without a baseline)
 * @param comparison      {@link MetricDeltas#deltas} of the two (empty without a baseline)
 * @param paired          paired correctness tables per case-level accuracy metric (empty without a baseline)
 * @param gates           the gate verdicts, in suite order
 * @param timings         scoring times; the only part that differs between two identical runs
 */
public record EvalReport(String toolVersion, long seed, ModelInfo model, Optional<ModelInfo> baseline,
                         List<TaskResult> tasks, SequencedMap<String, Double> metrics,
                         SequencedMap<String, Double> baselineMetrics, SequencedMap<String, Double> comparison,
                         SequencedMap<String, PairedCounts> paired, List<GateResult> gates, List<TaskTiming> timings) {

    public EvalReport {
        tasks = List.copyOf(tasks);
        metrics = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(metrics));
        baselineMetrics = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(baselineMetrics));
        comparison = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(comparison));
        paired = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(paired));
        gates = List.copyOf(gates);
        timings = List.copyOf(timings);
    }

    /**
     * This report with its model names and data set files rewritten by {@code recorded} (a
     * recipe records paths relative to its folder); the models are named by their directories.
     */
    public EvalReport recorded(Function<Path, String> recorded) {
        Function<ModelInfo, ModelInfo> model = m -> new ModelInfo(recorded.apply(Path.of(m.name())), m.sha256());
        List<TaskResult> moved = tasks.stream().map(t -> new TaskResult(t.spec(), new TaskDataset(
                Path.of(recorded.apply(t.dataset().file())), t.dataset().sha256(), t.dataset().cases(),
                t.dataset().lines()), t.candidate(), t.baseline())).toList();
        return new EvalReport(toolVersion, seed, model.apply(this.model), baseline.map(model), moved, metrics,
                baselineMetrics, comparison, paired, gates, timings);
    }

    /** The same report without its timings: what a run writes when its output must not vary from run to run. */
    public EvalReport withoutTimings() {
        return new EvalReport(toolVersion, seed, model, baseline, tasks, metrics, baselineMetrics, comparison, paired,
                gates, List.of());
    }

    /** Whether every gate passed (true when there is no gate). */
    public boolean passed() {
        return gates.stream().allMatch(GateResult::passed);
    }

    /**
     * The verdict in words: {@code PASSED: 2 of 2 gates passed}, {@code FAILED: 1 of 2 gates
     * passed}, or, when the suite has no gate, that nothing was judged.
     */
    public String verdict() {
        if (gates.isEmpty()) {
            return "no gates: the suite sets none, so nothing was judged";
        }
        int failed = failedGates().size();
        return (failed == 0 ? "PASSED" : "FAILED") + ": " + (gates.size() - failed) + " of " + gates.size() + " gates passed";
    }

    /** The gates that failed, in suite order. */
    public List<GateResult> failedGates() {
        return gates.stream().filter(g -> !g.passed()).toList();
    }
}
