package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.HeadScale;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Tap;
import org.neurotome.model.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * The head scan of docs/method.md A3 (Yu &amp; Ananiadou, EMNLP 2024, §3.2 and
 * {@code Llama_view_arithmetic-head.ipynb}): every attention head is ablated in turn (its
 * output zeroed at every position, as zeroing its columns of the output projection) and the
 * target tokens are scored again. Instead of one edited copy of the model per head, a batch
 * of cases (each one row, prompt plus all but the last target token, scored at every target
 * position) is run once with the residual stream recorded at every layer; then, for each
 * layer l, all its head ablations run as batch rows that resume from the recorded
 * {@code resid_pre} of layer l, so the layers before l are never recomputed. The ablation
 * runs of a batch of cases go to the forward pass together ({@link
 * org.neurotome.model.Transformer#forwardEach}), so a streamed model reads each layer once for
 * all of them.
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
        public static final long DEFAULT_BATCH_ELEMENTS = 1L << 21;

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

    /** The widest activation of one batch row of {@code maxLen} positions: [S, max(D, 2I, H·S, V)]. */
    static long elementsPerRow(ModelConfig c, int maxLen) {
        long width = Math.max(Math.max(c.hiddenSize(), 2L * c.maxFfnWidth()), Math.max((long) c.numHeads() * maxLen,
                c.vocabSize()));
        return maxLen * width;
    }

    /** One case as one batch row: what it reads, and where its steps are scored. */
    record Row(int[] context, int firstStep, int[] positions, int[] targets) {
        static Row of(PromptSet prompts, int caseIndex, int firstStep) {
            PromptSet.Case c = prompts.cases().get(caseIndex);
            int t = c.target().length;
            int[] context = Arrays.copyOf(c.prompt(), c.prompt().length + Math.max(0, t - 1));
            if (t > 1) {
                System.arraycopy(c.target(), 0, context, c.prompt().length, t - 1);
            }
            int steps = Math.max(1, t);
            int[] positions = new int[steps];
            int[] targets = new int[steps];
            for (int j = 0; j < steps; j++) {
                positions[j] = c.prompt().length - 1 + j;
                targets[j] = t == 0 ? -1 : c.target()[j];
            }
            return new Row(context, firstStep, positions, targets);
        }
    }

    /** Ablates every head of {@code model} on every step of {@code prompts}; non-finite logits are refused. */
    public static HeadScanResult run(LanguageModel model, PromptSet prompts, Options options) {
        return run(model.transformer(), prompts, options, model::requireFinite);
    }

    /**
     * Ablates every head of {@code transformer} on every step of {@code prompts}, checking the
     * unablated logits with {@code finiteCheck} (a model view without a checkpoint of its own,
     * such as a fixture in training, passes one that accepts all).
     */
    public static HeadScanResult run(Transformer transformer, PromptSet prompts, Options options,
                                     Consumer<NDArray> finiteCheck) {
        return HeadScanResult.merge(prompts, List.of(runShard(transformer, prompts, 0, 1, options, finiteCheck)),
                options.groupBy());
    }

    /** Shard {@code shard} of {@code shards} of the scan of {@code model} ({@link #runShard(Transformer, PromptSet, int, int, Options, Consumer)}). */
    public static HeadScanShard runShard(LanguageModel model, PromptSet prompts, int shard, int shards,
                                         Options options) {
        return runShard(model.transformer(), prompts, shard, shards, options, model::requireFinite);
    }

    /** How many batches of cases the scan of {@code prompts} forms ({@link #runShard}): at most as many shards. */
    public static int batches(ModelConfig c, PromptSet prompts, Options options) {
        int cases = prompts.cases().size();
        if (cases == 0) {
            return 0;
        }
        int maxLen = 1;
        for (int i = 0, step = 0; i < cases; i++) {
            Row row = Row.of(prompts, i, step);
            maxLen = Math.max(maxLen, row.context().length);
            step += row.positions().length;
        }
        return Math.ceilDiv(cases, caseRows(c, cases, maxLen, options));
    }

    /** Cases in one batch: as many as one forward of every head ablated holds, at least one. */
    private static int caseRows(ModelConfig c, int cases, int maxLen, Options options) {
        long rowsPerForward = Math.max(1, options.batchElements() / elementsPerRow(c, maxLen));
        return Math.clamp(rowsPerForward / c.numHeads(), 1, cases);
    }

    /**
     * Shard {@code shard} (0-based) of {@code shards} of the scan: the batches of cases the whole
     * scan forms (their size set by the longest case of all of {@code prompts}, padding per
     * batch), split into {@code shards} runs of consecutive whole batches, so every score is
     * computed in the batch it is computed in unsharded and {@link HeadScanResult#merge} gives
     * the unsharded result bit for bit. A shard past the number of batches is empty.
     */
    public static HeadScanShard runShard(Transformer transformer, PromptSet prompts, int shard, int shards,
                                         Options options, Consumer<NDArray> finiteCheck) {
        if (shards < 1 || shard < 0 || shard >= shards) {
            throw NeurotomeException.badInput("shard " + shard + " of " + shards + ": want 0 <= shard < shards");
        }
        ModelConfig c = transformer.config();
        int layers = c.numLayers();
        int heads = c.numHeads();
        for (PromptSet.Step s : prompts.steps()) {
            if (s.target() >= c.vocabSize()) {
                throw NeurotomeException.badInput("target id " + s.target() + " is outside the vocabulary of size "
                        + c.vocabSize());
            }
        }
        List<Row> all = new ArrayList<>();
        for (int i = 0, step = 0; i < prompts.cases().size(); i++) {
            Row row = Row.of(prompts, i, step);
            all.add(row);
            step += row.positions().length;
        }
        int maxLen = all.stream().mapToInt(r -> r.context().length).max().orElseThrow();
        long rowsPerForward = Math.max(1, options.batchElements() / elementsPerRow(c, maxLen));
        int caseRows = caseRows(c, all.size(), maxLen, options);
        int group = Math.clamp(rowsPerForward / caseRows, 1, heads);
        int batches = Math.ceilDiv(all.size(), caseRows);
        int fromCase = Math.min(all.size(), (int) ((long) shard * batches / shards) * caseRows);
        int toCase = Math.min(all.size(), (int) ((long) (shard + 1) * batches / shards) * caseRows);
        List<Row> rows = all.subList(fromCase, toCase);
        int firstStep = fromCase < all.size() ? all.get(fromCase).firstStep() : prompts.steps().size();
        int n = rows.stream().mapToInt(r -> r.positions().length).sum();

        int[] target = new int[n];
        float[] baseLogprob = new float[n];
        boolean[] baseTop1 = new boolean[n];
        float[][][] logprob = new float[layers][heads][n];
        boolean[][][] top1 = new boolean[layers][heads][n];
        List<String> taps = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            taps.add(Tap.residPre(l));
        }
        long total = (long) layers * heads * rows.size();
        long doneBefore = 0;
        for (int from = 0; from < rows.size(); from += caseRows) {
            List<Row> part = rows.subList(from, Math.min(rows.size(), from + caseRows));
            int r = part.size();
            int[] lengths = part.stream().mapToInt(x -> x.context().length).toArray();
            try (NDScope scope = new NDScope();
                 ForwardResult base = transformer.forward(ForwardRequest.tokens(
                         part.stream().map(Row::context).toList()).withTaps(taps).tapAtAllPositions().withAllLogits())) {
                finiteCheck.accept(base.logits());
                int[] t = scoreBase(base.logits(), part, firstStep, target, baseLogprob, baseTop1);
                List<ForwardRequest> ablations = new ArrayList<>();
                List<int[]> at = new ArrayList<>();                                          // {layer, first head, heads}
                for (int l = 0; l < layers; l++) {
                    NDArray resid = base.tap(Tap.residPre(l));                                // [R, S, D]
                    for (int g0 = 0; g0 < heads; g0 += group) {
                        int g = Math.min(heads, g0 + group) - g0;
                        int[] rowLengths = new int[r * g];
                        List<HeadScale> ablate = new ArrayList<>();
                        for (int i = 0; i < r; i++) {
                            for (int j = 0; j < g; j++) {
                                rowLengths[i * g + j] = lengths[i];
                                ablate.add(new HeadScale(i * g + j, l, g0 + j, 0f));
                            }
                        }
                        NDArray repeated = resid.repeat(0, g);                               // [R·G, S, D], row i·G + j
                        ablations.add(ForwardRequest.fromResidual(l, repeated, rowLengths).withHeadScales(ablate)
                                .withAllLogits());
                        at.add(new int[] {l, g0, g});
                    }
                }
                long[] done = {doneBefore};
                transformer.forwardEach(ablations, (a, ab) -> {
                    int l = at.get(a)[0];
                    int g0 = at.get(a)[1];
                    int g = at.get(a)[2];
                    scatter(score(ab.logits(), part, g, t), part, firstStep, g0, g, target, logprob[l], top1[l]);
                    done[0] += (long) r * g;
                    options.progress().update("head ablations", done[0], total);
                });
                doneBefore = done[0];
            }
        }
        return new HeadScanShard(shard, shards, prompts.digest(), firstStep, target, baseLogprob,
                baseTop1, logprob, top1);
    }

    /**
     * Scores the unablated rows of {@code part} and records each step's target, log-probability
     * and top-1 hit at index step − {@code firstStep}; returns the targets in scoring order, for
     * the ablated rows to be scored on.
     */
    static int[] scoreBase(NDArray logits, List<Row> part, int firstStep, int[] target, float[] baseLogprob,
                           boolean[] baseTop1) {
        Scored b = score(logits, part, 1, null);
        int[] t = b.targets();
        for (int i = 0; i < t.length; i++) {
            int step = stepOf(part, i) - firstStep;
            target[step] = t[i];
            baseLogprob[step] = b.logprob()[i];
            baseTop1[step] = b.argmax()[i] == t[i];
        }
        return t;
    }

    /**
     * Records the scores of {@code g} ablated copies of each row of {@code part} (row-major:
     * case, ablated unit, step) as units {@code g0 .. g0+g-1} of {@code logprob} and
     * {@code top1}, both [unit][step − {@code firstStep}].
     */
    static void scatter(Scored s, List<Row> part, int firstStep, int g0, int g, int[] target, float[][] logprob,
                        boolean[][] top1) {
        int k = 0;
        for (Row row : part) {
            for (int j = 0; j < g; j++) {
                for (int p = 0; p < row.positions().length; p++, k++) {
                    int step = row.firstStep() + p - firstStep;
                    logprob[g0 + j][step] = s.logprob()[k];
                    top1[g0 + j][step] = s.argmax()[k] == target[step];
                }
            }
        }
    }

    /** The step of the i-th scored position of {@code part}, counting positions row by row. */
    static int stepOf(List<Row> part, int i) {
        for (Row row : part) {
            if (i < row.positions().length) {
                return row.firstStep() + i;
            }
            i -= row.positions().length;
        }
        throw new IndexOutOfBoundsException(i);
    }

    /** Log-probabilities and argmaxes at the scored positions, and the targets they were taken of. */
    record Scored(float[] logprob, long[] argmax, int[] targets) {
    }

    /**
     * Reads logits [B, S, V] of rows {@code (case i, copy j)} at row {@code i·copies + j}, at
     * every scored position, in (case, copy, position) order. {@code resolved} gives the
     * targets per (case, position) in that order without copies; null takes them from the
     * rows, a missing one (−1) being the argmax there.
     */
    static Scored score(NDArray logits, List<Row> part, int copies, int[] resolved) {
        long seq = logits.getShape().get(1);
        long vocab = logits.getShape().get(2);
        List<Long> flat = new ArrayList<>();
        List<Integer> targets = new ArrayList<>();
        int k = 0;
        for (int i = 0; i < part.size(); i++) {
            Row row = part.get(i);
            for (int j = 0; j < copies; j++) {
                for (int p = 0; p < row.positions().length; p++) {
                    flat.add(((long) i * copies + j) * seq + row.positions()[p]);
                    targets.add(resolved != null ? resolved[k + p] : row.targets()[p]);
                }
            }
            k += row.positions().length;
        }
        NDManager m = logits.getManager();
        NDArray at = logits.reshape(-1, vocab).get(new NDIndex("{}", m.create(flat.stream().mapToLong(Long::longValue)
                .toArray())));                                                                   // [N, V]
        long[] argmax = at.argMax(1).toLongArray();
        int[] t = new int[targets.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = targets.get(i) >= 0 ? targets.get(i) : Math.toIntExact(argmax[i]);
        }
        float[] lp = Attribution.pick(at, m.create(Attribution.longs(t, 1), new Shape(t.length, 1)));
        return new Scored(lp, argmax, t);
    }
}
