package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import org.neurotome.arch.ModelConfig;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.HeadScale;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Tap;

import java.util.ArrayList;
import java.util.List;

/**
 * The head scan of METHOD.md A3 (Yu &amp; Ananiadou, EMNLP 2024, §3.2 and
 * {@code Llama_view_arithmetic-head.ipynb}): every attention head is ablated in turn (its
 * output zeroed at every position, as zeroing its columns of the output projection) and the
 * target tokens are scored again. Instead of one edited copy of the model per head, a
 * batch of positions is run once with the residual stream recorded at every layer; then, for
 * each layer l, all its head ablations run as batch rows that resume from the recorded
 * {@code resid_pre} of layer l, so the layers before l are never recomputed.
 */
public final class HeadScan {
    /**
     * @param batchElements rough bound on the float elements of one batched forward's widest
     *                      activation; bounds memory, not results
     * @param groupBy       label keys to report accuracy per value of; null picks every label
     *                      with 2 to 16 distinct values among the cases
     * @param progress      told after each batch of ablations
     */
    public record Options(long batchElements, List<String> groupBy, Progress progress) {
        public static final long DEFAULT_BATCH_ELEMENTS = 1L << 25;

        public Options {
            if (batchElements < 1) {
                throw new IllegalArgumentException("batchElements must be positive, got " + batchElements);
            }
            groupBy = groupBy == null ? null : List.copyOf(groupBy);
        }

        public static Options defaults() {
            return new Options(DEFAULT_BATCH_ELEMENTS, null, Progress.NONE);
        }

        public Options withProgress(Progress p) {
            return new Options(batchElements, groupBy, p);
        }

        public Options withGroupBy(List<String> keys) {
            return new Options(batchElements, keys, progress);
        }
    }

    private HeadScan() {
    }

    /** The widest activation of one batch row of {@code maxLen} positions: [S, max(D, 2I, H·S)]. */
    static long elementsPerRow(ModelConfig c, int maxLen) {
        return maxLen * Math.max(Math.max(c.hiddenSize(), 2L * c.ffnSize()), (long) c.numHeads() * maxLen);
    }

    /** Ablates every head of {@code model} on every step of {@code prompts}. */
    public static HeadScanResult run(LanguageModel model, PromptSet prompts, Options options) {
        ModelConfig c = model.config();
        int layers = c.numLayers();
        int heads = c.numHeads();
        List<PromptSet.Step> steps = prompts.steps();
        int n = steps.size();
        long rowsPerForward = Math.max(1, options.batchElements() / elementsPerRow(c, prompts.maxContext()));
        int stepRows = (int) Math.clamp(rowsPerForward / heads, 1, n);
        int group = (int) Math.clamp(rowsPerForward / stepRows, 1, heads);

        int[] target = new int[n];
        float[] baseLogprob = new float[n];
        boolean[] baseTop1 = new boolean[n];
        float[][][] logprob = new float[layers][heads][n];
        boolean[][][] top1 = new boolean[layers][heads][n];
        List<String> taps = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            taps.add(Tap.residPre(l));
        }
        long total = (long) layers * heads * n;
        long done = 0;
        for (int from = 0; from < n; from += stepRows) {
            int rows = Math.min(n, from + stepRows) - from;
            List<PromptSet.Step> part = steps.subList(from, from + rows);
            int[] lengths = part.stream().mapToInt(s -> s.context().length).toArray();
            try (NDScope scope = new NDScope();
                 ForwardResult base = model.transformer().forward(ForwardRequest.tokens(Attribution.contexts(part))
                         .withTaps(taps).tapAtAllPositions())) {
                NDArray logits = base.logits();                                               // [R, V]
                long[] argmax = logits.argMax(1).toLongArray();
                int[] t = new int[rows];
                for (int r = 0; r < rows; r++) {
                    int given = part.get(r).target();
                    t[r] = given >= 0 ? given : Math.toIntExact(argmax[r]);
                    target[from + r] = t[r];
                    baseTop1[from + r] = argmax[r] == t[r];
                }
                float[] lp = Attribution.pick(logits, logits.getManager().create(Attribution.longs(t, 1), new Shape(rows, 1)));
                System.arraycopy(lp, 0, baseLogprob, from, rows);
                for (int l = 0; l < layers; l++) {
                    NDArray resid = base.tap(Tap.residPre(l));                                // [R, S, D]
                    for (int g0 = 0; g0 < heads; g0 += group) {
                        int g = Math.min(heads, g0 + group) - g0;
                        int[] rowLengths = new int[rows * g];
                        List<HeadScale> ablate = new ArrayList<>();
                        for (int r = 0; r < rows; r++) {
                            for (int j = 0; j < g; j++) {
                                rowLengths[r * g + j] = lengths[r];
                                ablate.add(new HeadScale(r * g + j, l, g0 + j, 0f));
                            }
                        }
                        try (NDScope batchScope = new NDScope()) {
                            NDArray repeated = resid.repeat(0, g);                           // [R·G, S, D], row r·G + j
                            try (ForwardResult ab = model.transformer().forward(
                                    ForwardRequest.fromResidual(l, repeated, rowLengths).withHeadScales(ablate))) {
                                NDArray al = ab.logits();                                    // [R·G, V]
                                float[] alp = Attribution.pick(al, al.getManager().create(Attribution.longs(t, g),
                                        new Shape((long) rows * g, 1)));
                                long[] am = al.argMax(1).toLongArray();
                                for (int r = 0; r < rows; r++) {
                                    for (int j = 0; j < g; j++) {
                                        logprob[l][g0 + j][from + r] = alp[r * g + j];
                                        top1[l][g0 + j][from + r] = am[r * g + j] == t[r];
                                    }
                                }
                            }
                        }
                        done += (long) rows * g;
                        options.progress().update("head ablations", done, total);
                    }
                }
            }
        }
        return new HeadScanResult(prompts, target, baseLogprob, baseTop1, logprob, top1, options.groupBy());
    }
}
