package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import org.neurotome.arch.Experts;
import org.neurotome.arch.ModelConfig;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Tap;

import java.util.ArrayList;
import java.util.List;

/**
 * How a mixture of experts uses its experts over a set of prompts: at every position of every
 * case (its prompt and all but the last target token, teacher-forced), which experts each
 * sparse layer's router selects, with what weight, and the REAP saliency of each expert —
 * the mean over the positions that select it of {@code routing_weight · ‖down_e · a_e‖₂}
 * (Lasby et al., 2025, "REAP: Router-weighted Expert Activation Pruning", §3), the
 * criterion expert pruning ranks experts by. Counted from the routing taps and the per-expert
 * outputs ({@link Tap#expertOut}) of one forward over the cases.
 */
public final class ExpertUsage {
    private ExpertUsage() {
    }

    /**
     * Counts every position of every case of {@code prompts}.
     *
     * @param batchElements rough bound on the float elements of one batched forward's widest activation
     */
    public static ExpertUsageResult run(LanguageModel model, PromptSet prompts, long batchElements, Progress progress) {
        ModelConfig c = model.config();
        List<Integer> sparse = ExpertScan.sparseLayers(c, "expert-usage");
        Experts ex = c.features().experts();
        int e = ex.count();
        int rowsOut = e + (ex.sharedWidth() > 0 ? 1 : 0);
        long[][] count = new long[sparse.size()][e];
        double[][] weight = new double[sparse.size()][e];
        double[][] reap = new double[sparse.size()][e];
        List<int[]> contexts = new ArrayList<>();
        for (int i = 0, step = 0; i < prompts.cases().size(); i++) {
            HeadScan.Row row = HeadScan.Row.of(prompts, i, step);
            contexts.add(row.context());
            step += row.positions().length;
        }
        int maxLen = contexts.stream().mapToInt(a -> a.length).max().orElseThrow();
        long perRow = (long) maxLen * (Math.max((long) rowsOut * c.hiddenSize(), Math.max(3L * c.maxFfnWidth(),
                c.vocabSize())) + (long) sparse.size() * (rowsOut * c.hiddenSize() + e));
        int chunk = (int) Math.clamp(batchElements / perRow, 1, contexts.size());
        List<String> taps = new ArrayList<>();
        for (int l : sparse) {
            taps.addAll(List.of(Tap.expertWeights(l), Tap.expertOut(l)));
        }
        long tokens = 0;
        for (int from = 0; from < contexts.size(); from += chunk) {
            List<int[]> part = contexts.subList(from, Math.min(contexts.size(), from + chunk));
            try (NDScope scope = new NDScope();
                 ForwardResult fr = model.transformer().forward(ForwardRequest.tokens(part).withTaps(taps)
                         .tapAtAllPositions())) {
                model.requireFinite(fr.logits());
                int seq = Math.toIntExact(fr.tap(Tap.expertWeights(sparse.getFirst())).getShape().get(1));
                for (int si = 0; si < sparse.size(); si++) {
                    int l = sparse.get(si);
                    float[] w = fr.tap(Tap.expertWeights(l)).toFloatArray();                        // [R·S·E]
                    NDArray out = fr.tap(Tap.expertOut(l));                                          // [R, S, E', D]
                    float[] norms = out.norm(new int[] {-1}).toFloatArray();                         // [R·S·E']
                    for (int r = 0; r < part.size(); r++) {
                        for (int s = 0; s < part.get(r).length; s++) {
                            for (int x = 0; x < e; x++) {
                                float wx = w[(r * seq + s) * e + x];
                                if (wx != 0) {
                                    count[si][x]++;
                                    weight[si][x] += wx;
                                    reap[si][x] += norms[(r * seq + s) * rowsOut + x];
                                }
                            }
                        }
                    }
                }
            }
            for (int[] p : part) {
                tokens += p.length;
            }
            progress.update("cases", from + part.size(), contexts.size());
        }
        return new ExpertUsageResult(prompts, sparse, tokens, count, weight, reap);
    }
}
