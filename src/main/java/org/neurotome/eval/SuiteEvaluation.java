package org.neurotome.eval;

import ai.djl.Device;
import org.neurotome.Sha256;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.Residency;
import org.neurotome.model.WeightOverlay;

import java.nio.charset.StandardCharsets;
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
        return run(suite, gates, candidate, null, baseline, null, device, budget, limit, progress);
    }

    /**
     * As {@link #run(Suite, List, Path, Path, Device, MemoryBudget, Integer, ProgressListener)},
     * the candidate's and the baseline's weights read through the overlays given (LoRA
     * adapters; null for none). A model with an adapter is named {@code DIR + adapter ADAPTER}
     * in the report, and its SHA-256 is that of the two fingerprints together.
     */
    public static EvalReport run(Suite suite, List<Gate> gates, Path candidate, WeightOverlay candidateAdapter,
                                 Path baseline, WeightOverlay baselineAdapter, Device device, MemoryBudget budget,
                                 Integer limit, ProgressListener progress) {
        return run(suite, gates, candidate, candidateAdapter, baseline, baselineAdapter, null, device, budget, limit,
                progress);
    }

    /**
     * As {@link #run(Suite, List, Path, Path, Device, MemoryBudget, Integer, ProgressListener)},
     * the baseline's scores replayed from {@code recorded} (its scores on this suite's cases)
     * instead of computed; null computes them. The baseline is then not opened, but the candidate
     * is opened as beside it, with what streaming the baseline needs held back from the budget.
     */
    public static EvalReport run(Suite suite, List<Gate> gates, Path candidate, Path baseline, BaselineScores recorded,
                                 Device device, MemoryBudget budget, Integer limit, ProgressListener progress) {
        return run(suite, gates, candidate, null, baseline, null, recorded, device, budget, limit, progress);
    }

    private static EvalReport run(Suite suite, List<Gate> gates, Path candidate, WeightOverlay candidateAdapter,
                                  Path baseline, WeightOverlay baselineAdapter, BaselineScores recorded, Device device,
                                  MemoryBudget budget, Integer limit, ProgressListener progress) {
        List<TaskSpec> tasks = new ArrayList<>();
        for (Task t : suite.tasks()) {
            TaskSpec spec = TaskSpec.of(t.id(), t.kind(), t.dataset(), t.where().labels(), t.limit());
            tasks.add(limit == null ? spec : spec.withLimit(limit));
        }
        Suite.requireTasks(gates, suite.taskIds(), "gates");
        GateEvaluator evaluator = (m, b, p) -> gates.stream().map(g -> g.evaluate(m, b, p)).toList();
        try (LanguageModel cand = openHolding(candidate, candidateAdapter, baseline, device, budget);
             LanguageModel base = baseline == null || recorded != null ? null
                     : LanguageModel.open(baseline, device, budget, baselineAdapter)) {
            EvaluatedModel c = new EvaluatedModel(info(candidate, candidateAdapter), new ModelCaseScorer(cand));
            Optional<EvaluatedModel> b = baseline == null ? Optional.empty()
                    : Optional.of(new EvaluatedModel(info(baseline, baselineAdapter),
                    base == null ? recorded.scorer() : new ModelCaseScorer(base)));
            boolean streamed = cand.weights().memory().layerMajor() || base != null && base.weights().memory().layerMajor();
            cand.transformer().setProgress((done, total) -> progress.update("layers", "candidate", done, total));
            if (base != null) {
                base.transformer().setProgress((done, total) -> progress.update("layers", "baseline", done, total));
            }
            return new EvalRunner(streamed ? Integer.MAX_VALUE : ModelCaseScorer.FORWARD_ROWS, progress)
                    .forSuite(suite.name()).run(c, b, tasks, evaluator, EvalDatasets.DEFAULT_SEED);
        }
    }

    /**
     * Opens the candidate while what streaming the baseline needs is held back from the budget,
     * so that the candidate's choices (kept weights, a second layer buffer) never leave the
     * baseline too little: the two then fit exactly when the budget covers both at their least,
     * which is what the error of a budget too small says.
     */
    private static LanguageModel openHolding(Path candidate, WeightOverlay adapter, Path baseline, Device device,
                                             MemoryBudget budget) {
        long held = 0;
        if (baseline != null) {
            try (Checkpoint b = Checkpoint.open(baseline)) {
                held = Residency.streamingNeed(b);
            }
        }
        try (MemoryBudget.Reservation r = budget.reserve(held)) {
            return LanguageModel.open(candidate, device, budget, adapter);
        }
    }

    private static ModelInfo info(Path dir, WeightOverlay adapter) {
        String name = dir.toAbsolutePath().normalize().toString();
        String sha = Manifest.fingerprint(dir);
        if (adapter == null) {
            return new ModelInfo(name, sha);
        }
        String adapterName = adapter.dir() == null ? "trained in this run" : adapter.dir().toAbsolutePath().normalize().toString();
        String both = Sha256.hex((sha + "  model\n" + adapter.fingerprint() + "  adapter\n").getBytes(StandardCharsets.UTF_8));
        return new ModelInfo(name + " + adapter " + adapterName, both);
    }
}
