package org.neurotome.eval;

import org.neurotome.NeurotomeException;
import org.neurotome.Tool;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Runs an evaluation: reads every task's data set (all of them before scoring anything, so a bad
 * file fails fast), scores the cases in batches with the candidate and, if given, the baseline,
 * computes each task's metrics, pairs the two models' per-case correctness, and decides the
 * gates (docs/method.md A6). The result depends only on the inputs; timings are kept apart.
 */
public final class EvalRunner {
    private final int batchSize;
    private final ProgressListener progress;
    private final LongSupplier nanoClock;
    private final String suite;

    /**
     * @param batchSize the most cases handed to a scorer at once
     * @param progress  told after every batch
     * @param nanoClock the clock timings are read from ({@code System::nanoTime})
     */
    public EvalRunner(int batchSize, ProgressListener progress, LongSupplier nanoClock) {
        if (batchSize < 1) {
            throw NeurotomeException.badInput("batch size must be at least 1, got " + batchSize);
        }
        this.batchSize = batchSize;
        this.progress = progress;
        this.nanoClock = nanoClock;
        this.suite = null;
    }

    private EvalRunner(EvalRunner r, String suite) {
        this.batchSize = r.batchSize;
        this.progress = r.progress;
        this.nanoClock = r.nanoClock;
        this.suite = suite;
    }

    /** This runner naming suite {@code name} when a case cannot be scored. */
    public EvalRunner forSuite(String name) {
        return new EvalRunner(this, name);
    }

    /** A runner timing with {@link System#nanoTime}. */
    public EvalRunner(int batchSize, ProgressListener progress) {
        this(batchSize, progress, System::nanoTime);
    }

    /**
     * Evaluates {@code candidate} (and {@code baseline}, on the same cases) on {@code tasks} and
     * decides the gates.
     *
     * @param seed the suite's seed, recorded in the report
     */
    public EvalReport run(EvaluatedModel candidate, Optional<EvaluatedModel> baseline, List<TaskSpec> tasks,
                          GateEvaluator gates, long seed) {
        if (tasks.isEmpty()) {
            throw NeurotomeException.badInput("no task to evaluate");
        }
        Set<String> names = new HashSet<>();
        for (TaskSpec t : tasks) {
            if (!names.add(t.id())) {
                throw NeurotomeException.badInput("two tasks have the id '" + t.id() + "'; task ids prefix metric names and must differ");
            }
        }
        List<TaskDataset> datasets = tasks.stream().map(DatasetReader::read).toList();

        List<TaskResult> results = new ArrayList<>();
        List<TaskTiming> timings = new ArrayList<>();
        SequencedMap<String, Double> metrics = new LinkedHashMap<>();
        SequencedMap<String, Double> baselineMetrics = new LinkedHashMap<>();
        SequencedMap<String, PairedCounts> paired = new LinkedHashMap<>();
        for (int t = 0; t < tasks.size(); t++) {
            TaskSpec spec = tasks.get(t);
            TaskDataset data = datasets.get(t);
            TaskScores cand = score(spec, data, "candidate", candidate.scorer(), timings);
            metrics.putAll(cand.metrics().values());
            Optional<TaskScores> base = baseline.map(b -> score(spec, data, "baseline", b.scorer(), timings));
            base.ifPresent(b -> {
                baselineMetrics.putAll(b.metrics().values());
                for (Map.Entry<String, List<Integer>> g : cand.metrics().accuracyGroups().entrySet()) {
                    paired.put(g.getKey(), PairedCounts.of(g.getValue(), b.metrics().correct(), cand.metrics().correct()));
                }
            });
            results.add(new TaskResult(spec, data, cand, base));
        }
        SequencedMap<String, Double> comparison = baseline.isPresent()
                ? MetricDeltas.deltas(metrics, baselineMetrics) : new LinkedHashMap<>();
        SequencedMap<String, DiscordantPairs> discordant = new LinkedHashMap<>();
        paired.forEach((name, p) -> discordant.put(name, p.discordant()));
        List<GateResult> verdicts = gates.evaluate(Collections.unmodifiableSequencedMap(metrics),
                Collections.unmodifiableSequencedMap(baselineMetrics), Collections.unmodifiableSequencedMap(discordant));
        return new EvalReport(Tool.version(), seed, candidate.info(), baseline.map(EvaluatedModel::info),
                results, metrics, baselineMetrics, comparison, paired, verdicts, timings);
    }

    private TaskScores score(TaskSpec spec, TaskDataset data, String model, CaseScorer scorer, List<TaskTiming> timings) {
        List<EvalCase> cases = data.cases();
        List<CaseScore> scores = new ArrayList<>(cases.size());
        long start = nanoClock.getAsLong();
        int batches = 0;
        progress.update(spec.id(), model, 0, cases.size());
        for (int from = 0; from < cases.size(); from = (int) Math.min(cases.size(), (long) from + batchSize)) {
            List<EvalCase> batch = cases.subList(from, (int) Math.min(cases.size(), (long) from + batchSize));
            List<CaseScore> got;
            try {
                got = scorer.score(batch);
            } catch (CaseScorer.CaseRefused e) {
                int i = from + e.index();
                throw new NeurotomeException(e.getCause().exitCode(), data.where(i) + ": case '" + cases.get(i).prompt()
                        + "' of task '" + spec.id() + "'" + (suite == null ? "" : " in suite '" + suite + "'") + " ("
                        + model + "): " + e.getCause().getMessage(), e.getCause());
            }
            if (got.size() != batch.size() || got.stream().anyMatch(Objects::isNull)) {
                throw new IllegalStateException("the " + model + " scorer returned " + got.size()
                        + " scores (or a null) for a batch of " + batch.size() + " cases of task '" + spec.id() + "'");
            }
            scores.addAll(got);
            batches++;
            progress.update(spec.id(), model, scores.size(), cases.size());
        }
        double seconds = (nanoClock.getAsLong() - start) / 1e9;
        timings.add(new TaskTiming(spec.id(), model, cases.size(), batches, seconds));
        return new TaskScores(scores, MetricCalculator.compute(spec.id(), spec.kind(), cases, scores));
    }
}
