package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Experts;
import org.neurotome.arch.ModelConfig;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Tap;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Log-probability-increase attribution of whole experts (docs/method.md A2 with experts as the
 * components; Yu &amp; Ananiadou, EMNLP 2024, §3.3): on the residual after attention
 * {@code r = resid_pre + attn_out} of a sparse layer, at the scored position, expert e adds
 * {@code v_e = routing_weight_e · down_e · a_e} (its rows of {@link Tap#expertOut}), and its score
 * is {@code log p(target | bs(r + v_e)) − log p(target | bs(r))} with the final norm frozen at
 * the run's own final residual. An expert the router did not select there scores 0; the gated
 * shared expert of Qwen2-MoE is scored the same way. The vectors sum to the layer's FFN output.
 */
public final class ExpertAttribution {
    private ExpertAttribution() {
    }

    /**
     * Scores every expert of every sparse layer at every step of {@code prompts} (each step's
     * context read to its last position; a step without a target scores the model's top-1).
     *
     * @param batchElements rough bound on the float elements of one batched forward's widest activation
     */
    public static ExpertAttributionResult run(LanguageModel model, VocabularyProjection projection, PromptSet prompts,
                                              long batchElements, Progress progress) {
        ModelConfig c = model.config();
        List<Integer> sparse = ExpertScan.sparseLayers(c, "expert-attribution");
        Experts ex = c.features().experts();
        int rowsOut = ex.count() + (ex.sharedWidth() > 0 ? 1 : 0);
        int layers = c.numLayers();
        int d = c.hiddenSize();
        List<PromptSet.Step> steps = prompts.steps();
        for (PromptSet.Step s : steps) {
            if (s.target() >= c.vocabSize()) {
                throw NeurotomeException.badInput("target id " + s.target() + " is outside the vocabulary of size "
                        + c.vocabSize());
            }
        }
        List<String> taps = new ArrayList<>();
        for (int l : sparse) {
            taps.addAll(List.of(Tap.residMid(l), Tap.expertOut(l), Tap.expertWeights(l)));
        }
        taps.add(Tap.residPost(layers - 1));
        long perRow = (long) prompts.maxContext() * Math.max((long) rowsOut * d, Math.max(3L * c.maxFfnWidth(),
                c.vocabSize())) + (long) sparse.size() * (rowsOut + 2) * d;
        int chunk = (int) Math.clamp(batchElements / perRow, 1, Math.max(1, steps.size()));
        List<ExpertAttributionResult.StepExperts> scored = new ArrayList<>();
        for (int from = 0; from < steps.size(); from += chunk) {
            List<PromptSet.Step> part = steps.subList(from, Math.min(steps.size(), from + chunk));
            int rows = part.size();
            try (NDScope scope = new NDScope();
                 var fr = model.transformer().forward(ForwardRequest.tokens(
                         part.stream().map(PromptSet.Step::context).toList()).withTaps(taps))) {
                model.requireFinite(fr.logits());
                long[] top = fr.logits().argMax(1).toLongArray();
                int[] target = new int[rows];
                for (int r = 0; r < rows; r++) {
                    target[r] = part.get(r).target() >= 0 ? part.get(r).target() : Math.toIntExact(top[r]);
                }
                float[] logprob = Attribution.pick(fr.logits(), fr.logits().getManager().create(
                        Attribution.longs(target, 1), new Shape(rows, 1)));
                float[] last = fr.tap(Tap.residPost(layers - 1)).toFloatArray();
                float[] scale = new float[rows];
                for (int r = 0; r < rows; r++) {
                    scale[r] = (float) FrozenNorm.of(Arrays.copyOfRange(last, r * d, (r + 1) * d),
                            model.weights().normKind(), model.weights().normEps()).scale();
                }
                float[][] before = new float[rows][sparse.size()];
                float[][][] increase = new float[rows][sparse.size()][ex.count()];
                float[][] shared = new float[rows][sparse.size()];
                for (int si = 0; si < sparse.size(); si++) {
                    int l = sparse.get(si);
                    NDArray mid = fr.tap(Tap.residMid(l));                                    // [R, D]
                    NDArray z = mid.expandDims(1).add(fr.tap(Tap.expertOut(l))).reshape(-1, d);  // [R·E', D]
                    float[] s = new float[rows * (1 + rowsOut)];
                    long[] t = new long[s.length];
                    for (int r = 0; r < rows; r++) {
                        s[r] = scale[r];
                        t[r] = target[r];
                        for (int e = 0; e < rowsOut; e++) {
                            s[rows + r * rowsOut + e] = scale[r];
                            t[rows + r * rowsOut + e] = target[r];
                        }
                    }
                    NDArray all = NDArrays.concat(new NDList(mid, z), 0);
                    float[] lp = Attribution.pick(projection.logits(all, s), all.getManager().create(t,
                            new Shape(t.length, 1)));
                    float[] weights = fr.tap(Tap.expertWeights(l)).toFloatArray();         // [R·E]
                    for (int r = 0; r < rows; r++) {
                        before[r][si] = lp[r];
                        for (int e = 0; e < ex.count(); e++) {
                            increase[r][si][e] = weights[r * ex.count() + e] == 0 ? 0f
                                    : lp[rows + r * rowsOut + e] - lp[r];
                        }
                        shared[r][si] = ex.sharedWidth() > 0 ? lp[rows + r * rowsOut + ex.count()] - lp[r] : Float.NaN;
                    }
                }
                for (int r = 0; r < rows; r++) {
                    scored.add(new ExpertAttributionResult.StepExperts(target[r], logprob[r], before[r], increase[r],
                            ex.sharedWidth() > 0 ? shared[r] : null));
                }
            }
            progress.update("positions", scored.size(), steps.size());
        }
        return new ExpertAttributionResult(prompts, sparse, ex.count(), scored);
    }
}
