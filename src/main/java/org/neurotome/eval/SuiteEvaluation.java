package org.neurotome.eval;

import ai.djl.Device;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Runs a {@link Suite} on a candidate checkpoint, optionally against a baseline checkpoint,
 * and judges gates on it: the models are opened under one memory budget, every task is
 * scored through {@link ModelCaseScorer}, and the gates are evaluated on the metrics and
 * paired counts. A kept model scores a task in calls of {@link ModelCaseScorer#FORWARD_ROWS}
 * cases; a streamed one scores the whole task in one call, so each of its layers is read once
 * per task (layer-major), not once per batch.
 */
public final class SuiteEvaluation {

    private SuiteEvaluation() {
    }

    /**
     * @param gates      the gates to judge: the suite's own, or a recipe's {@code eval.gates} in their place
     * @param limit      at most this many cases per task, or null for the suite's own limits
     */
    public static EvalReport run(Suite suite, List<Gate> gates, Path candidate, Path baseline, Device device,
                                 MemoryBudget budget, Integer limit, ProgressListener progress) {
        List<TaskSpec> tasks = new ArrayList<>();
        for (Task t : suite.tasks()) {
            TaskSpec spec = TaskSpec.of(t.id(), t.kind(), t.dataset(), t.where().labels(), t.limit());
            tasks.add(limit == null ? spec : spec.withLimit(limit));
        }
        Suite.requireTasks(gates, suite.taskIds(), "gates");
        GateEvaluator evaluator = (m, b, p) -> gates.stream().map(g -> g.evaluate(m, b, p)).toList();
        try (LanguageModel cand = LanguageModel.open(candidate, device, budget);
             LanguageModel base = baseline == null ? null : LanguageModel.open(baseline, device, budget)) {
            EvaluatedModel c = new EvaluatedModel(info(candidate), new ModelCaseScorer(cand));
            Optional<EvaluatedModel> b = base == null ? Optional.empty()
                    : Optional.of(new EvaluatedModel(info(baseline), new ModelCaseScorer(base)));
            boolean streamed = cand.weights().streaming() || base != null && base.weights().streaming();
            cand.transformer().setProgress((done, total) -> progress.update("layers", "candidate", done, total));
            if (base != null) {
                base.transformer().setProgress((done, total) -> progress.update("layers", "baseline", done, total));
            }
            return new EvalRunner(streamed ? Integer.MAX_VALUE : ModelCaseScorer.FORWARD_ROWS, progress)
                    .run(c, b, tasks, evaluator, EvalDatasets.DEFAULT_SEED);
        }
    }

    private static ModelInfo info(Path dir) {
        return new ModelInfo(dir.toAbsolutePath().normalize().toString(), Manifest.fingerprint(dir));
    }
}
