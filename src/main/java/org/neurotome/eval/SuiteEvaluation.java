package org.neurotome.eval;

import ai.djl.Device;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.model.LanguageModel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Runs a {@link Suite} on a candidate checkpoint, optionally against a baseline checkpoint,
 * and judges gates on it: the models are loaded, every task is scored in batches through
 * {@link ModelCaseScorer}, and the gates are evaluated on the metrics and paired counts.
 */
public final class SuiteEvaluation {
    /** Cases per batched forward. */
    public static final int BATCH = 32;

    private SuiteEvaluation() {
    }

    /**
     * @param gates      the gates to judge: the suite's own, or a recipe's {@code eval.gates} in their place
     * @param limit      at most this many cases per task, or null for the suite's own limits
     */
    public static EvalReport run(Suite suite, List<Gate> gates, Path candidate, Path baseline, Device device,
                                 Integer limit, ProgressListener progress) {
        List<TaskSpec> tasks = new ArrayList<>();
        for (Task t : suite.tasks()) {
            TaskSpec spec = TaskSpec.of(t.id(), t.kind(), t.dataset(), t.where().labels(), t.limit());
            tasks.add(limit == null ? spec : spec.withLimit(limit));
        }
        Suite.requireTasks(gates, suite.taskIds(), "gates");
        GateEvaluator evaluator = (m, b, p) -> gates.stream().map(g -> g.evaluate(m, b, p)).toList();
        try (LanguageModel cand = LanguageModel.open(candidate, device);
             LanguageModel base = baseline == null ? null : LanguageModel.open(baseline, device)) {
            EvaluatedModel c = new EvaluatedModel(info(candidate), new ModelCaseScorer(cand));
            Optional<EvaluatedModel> b = base == null ? Optional.empty()
                    : Optional.of(new EvaluatedModel(info(baseline), new ModelCaseScorer(base)));
            return new EvalRunner(BATCH, progress).run(c, b, tasks, evaluator, EvalDatasets.DEFAULT_SEED);
        }
    }

    private static ModelInfo info(Path dir) {
        return new ModelInfo(dir.toAbsolutePath().normalize().toString(), Manifest.fingerprint(dir));
    }
}
