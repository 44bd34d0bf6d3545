package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;
import org.neurotome.model.ExpertRemoval;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Tap;
import org.neurotome.model.Transformer;

import java.util.ArrayList;
import java.util.List;

/**
 * The expert scan: the head scan of {@link HeadScan} with experts in place of heads. Each
 * expert of each sparse layer is removed from that layer's routing in turn — its router logit
 * −∞ at every position, so the softmax, the top-k choice and the renormalisation run over the
 * other experts, exactly as a checkpoint without it ({@link ExpertRemoval}; transformers'
 * {@code MixtralSparseMoeBlock} / {@code Qwen2MoeSparseMoeBlock} / {@code OlmoeSparseMoeBlock}
 * routing) — and the target tokens are scored again. As in the head scan, the unablated run
 * records the residual stream entering every layer and each removal resumes from its layer,
 * the removals of a batch of cases going to the forward pass together.
 */
public final class ExpertScan {
    private ExpertScan() {
    }

    /** Removes every expert of every sparse layer of {@code model} in turn, on every step of {@code prompts}. */
    public static ExpertScanResult run(LanguageModel model, PromptSet prompts, long batchElements, Progress progress) {
        Transformer transformer = model.transformer();
        ModelConfig c = transformer.config();
        List<Integer> sparse = sparseLayers(c, "expert-scan");
        int experts = c.features().experts().count();
        int n = prompts.steps().size();
        for (PromptSet.Step s : prompts.steps()) {
            if (s.target() >= c.vocabSize()) {
                throw NeurotomeException.badInput("target id " + s.target() + " is outside the vocabulary of size "
                        + c.vocabSize());
            }
        }
        List<HeadScan.Row> rows = new ArrayList<>();
        for (int i = 0, step = 0; i < prompts.cases().size(); i++) {
            HeadScan.Row row = HeadScan.Row.of(prompts, i, step);
            rows.add(row);
            step += row.positions().length;
        }
        int maxLen = rows.stream().mapToInt(r -> r.context().length).max().orElseThrow();
        long rowsPerForward = Math.max(1, batchElements / HeadScan.elementsPerRow(c, maxLen));
        int caseRows = Math.clamp(rowsPerForward / experts, 1, rows.size());
        int group = Math.clamp(rowsPerForward / caseRows, 1, experts);

        int[] target = new int[n];
        float[] baseLogprob = new float[n];
        boolean[] baseTop1 = new boolean[n];
        float[][][] logprob = new float[sparse.size()][experts][n];
        boolean[][][] top1 = new boolean[sparse.size()][experts][n];
        List<String> taps = sparse.stream().map(Tap::residPre).toList();
        long total = (long) sparse.size() * experts * rows.size();
        long doneBefore = 0;
        for (int from = 0; from < rows.size(); from += caseRows) {
            List<HeadScan.Row> part = rows.subList(from, Math.min(rows.size(), from + caseRows));
            int r = part.size();
            int[] lengths = part.stream().mapToInt(x -> x.context().length).toArray();
            try (NDScope scope = new NDScope();
                 ForwardResult base = transformer.forward(ForwardRequest.tokens(
                         part.stream().map(HeadScan.Row::context).toList()).withTaps(taps).tapAtAllPositions()
                         .withAllLogits())) {
                model.requireFinite(base.logits());
                int[] t = HeadScan.scoreBase(base.logits(), part, 0, target, baseLogprob, baseTop1);
                List<ForwardRequest> removals = new ArrayList<>();
                List<int[]> at = new ArrayList<>();                                 // {sparse index, first expert, experts}
                for (int si = 0; si < sparse.size(); si++) {
                    int l = sparse.get(si);
                    NDArray resid = base.tap(Tap.residPre(l));                       // [R, S, D]
                    for (int g0 = 0; g0 < experts; g0 += group) {
                        int g = Math.min(experts, g0 + group) - g0;
                        int[] rowLengths = new int[r * g];
                        List<ExpertRemoval> remove = new ArrayList<>();
                        for (int i = 0; i < r; i++) {
                            for (int j = 0; j < g; j++) {
                                rowLengths[i * g + j] = lengths[i];
                                remove.add(new ExpertRemoval(i * g + j, l, g0 + j));
                            }
                        }
                        removals.add(ForwardRequest.fromResidual(l, resid.repeat(0, g), rowLengths)
                                .withExpertRemovals(remove).withAllLogits());
                        at.add(new int[] {si, g0, g});
                    }
                }
                long[] done = {doneBefore};
                transformer.forwardEach(removals, (a, out) -> {
                    int si = at.get(a)[0];
                    int g0 = at.get(a)[1];
                    int g = at.get(a)[2];
                    HeadScan.scatter(HeadScan.score(out.logits(), part, g, t), part, 0, g0, g, target, logprob[si],
                            top1[si]);
                    done[0] += (long) r * g;
                    progress.update("expert removals", done[0], total);
                });
                doneBefore = done[0];
            }
        }
        return new ExpertScanResult(prompts, sparse, target, baseLogprob, baseTop1, logprob, top1);
    }

    /** The sparse layers of {@code c}; a model without experts is refused for {@code method}. */
    static List<Integer> sparseLayers(ModelConfig c, String method) {
        List<Integer> sparse = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            if (c.sparseLayer(l)) {
                sparse.add(l);
            }
        }
        if (sparse.isEmpty()) {
            throw NeurotomeException.badInput(method + " needs a mixture-of-experts model (mixtral, qwen2_moe, "
                    + "qwen3_moe, olmoe); this " + c.architecture().modelType() + " model has no experts");
        }
        return sparse;
    }
}
