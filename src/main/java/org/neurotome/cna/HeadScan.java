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
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.stream.IntStream;

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
        int heads = c.numHeads();
        List<Row> all = rows(prompts, c);
        int[] batching = batching(c, all, heads, options.batchElements());
        int caseRows = batching[0];
        int batches = Math.ceilDiv(all.size(), caseRows);
        int fromCase = Math.min(all.size(), (int) ((long) shard * batches / shards) * caseRows);
        int toCase = Math.min(all.size(), (int) ((long) (shard + 1) * batches / shards) * caseRows);
        List<Row> rows = all.subList(fromCase, toCase);
        int firstStep = fromCase < all.size() ? all.get(fromCase).firstStep() : prompts.steps().size();
        Measured m = ablateEach(transformer, rows, firstStep, caseRows, batching[1],
                IntStream.range(0, c.numLayers()).boxed().toList(), heads, (row, l, h) -> new HeadScale(row, l, h, 0f),
                ForwardRequest::withHeadScales, finiteCheck, options.progress(), "head ablations");
        return new HeadScanShard(shard, shards, prompts.digest(), firstStep, m.target(), m.baseLogprob(),
                m.baseTop1(), m.logprob(), m.top1());
    }

    /** How many batches of cases the scan of {@code prompts} forms ({@link #runShard}): at most as many shards. */
    public static int batches(ModelConfig c, PromptSet prompts, Options options) {
        List<Row> all = rows(prompts, c);
        return all.isEmpty() ? 0 : Math.ceilDiv(all.size(), batching(c, all, c.numHeads(), options.batchElements())[0]);
    }

    /** Every case of {@code prompts} as a row, its steps numbered on from the rows before it; a target outside the vocabulary is refused. */
    static List<Row> rows(PromptSet prompts, ModelConfig c) {
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
        return all;
    }

    /**
     * How a scan of {@code units} units per layer batches {@code rows}: the cases per batch and
     * the ablated copies of each per request, so a request's rows stay within
     * {@code batchElements} (set by the longest row).
     */
    static int[] batching(ModelConfig c, List<Row> rows, int units, long batchElements) {
        int maxLen = rows.stream().mapToInt(r -> r.context().length).max().orElseThrow();
        long rowsPerForward = Math.max(1, batchElements / elementsPerRow(c, maxLen));
        int caseRows = Math.clamp(rowsPerForward / units, 1, rows.size());
        return new int[] {caseRows, Math.clamp(rowsPerForward / caseRows, 1, units)};
    }

    /** How a scan takes out one unit (a head, an expert): the intervention on batch row {@code row} ablating unit {@code unit} of layer {@code layer}. */
    interface UnitAblation<T> {
        T of(int row, int layer, int unit);
    }

    /**
     * What a scan measured at each step, at index step − first step: the target, its unablated
     * log-probability and top-1 hit, and per scanned layer and unit the ablated ones.
     */
    record Measured(int[] target, float[] baseLogprob, boolean[] baseTop1, float[][][] logprob, boolean[][][] top1) {
    }

    /**
     * The scan itself, for heads and experts alike: {@code rows} (whose steps begin at
     * {@code firstStep}) in batches of {@code caseRows} cases, each run once unablated with
     * {@code resid_pre} recorded at every scanned layer; then for each scanned layer every unit
     * ablated by {@code ablation}, {@code group} ablated copies of each case per request (which
     * {@code carrying} attaches the group's ablations to), resuming from that layer's recorded
     * residual. A batch's requests go to the forward pass together.
     */
    static <T> Measured ablateEach(Transformer transformer, List<Row> rows, int firstStep, int caseRows, int group,
                                   List<Integer> layers, int units, UnitAblation<T> ablation,
                                   BiFunction<ForwardRequest, List<T>, ForwardRequest> carrying,
                                   Consumer<NDArray> finiteCheck, Progress progress, String phase) {
        int n = rows.stream().mapToInt(r -> r.positions().length).sum();
        int[] target = new int[n];
        float[] baseLogprob = new float[n];
        boolean[] baseTop1 = new boolean[n];
        float[][][] logprob = new float[layers.size()][units][n];
        boolean[][][] top1 = new boolean[layers.size()][units][n];
        List<String> taps = layers.stream().map(Tap::residPre).toList();
        long total = (long) layers.size() * units * rows.size();
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
                List<int[]> at = new ArrayList<>();                                // {scanned layer, first unit, units}
                for (int li = 0; li < layers.size(); li++) {
                    int l = layers.get(li);
                    NDArray resid = base.tap(Tap.residPre(l));                                // [R, S, D]
                    for (int g0 = 0; g0 < units; g0 += group) {
                        int g = Math.min(units, g0 + group) - g0;
                        int[] rowLengths = new int[r * g];
                        List<T> ablate = new ArrayList<>();
                        for (int i = 0; i < r; i++) {
                            for (int j = 0; j < g; j++) {
                                rowLengths[i * g + j] = lengths[i];
                                ablate.add(ablation.of(i * g + j, l, g0 + j));
                            }
                        }
                        NDArray repeated = resid.repeat(0, g);                               // [R·G, S, D], row i·G + j
                        ablations.add(carrying.apply(ForwardRequest.fromResidual(l, repeated, rowLengths), ablate)
                                .withAllLogits());
                        at.add(new int[] {li, g0, g});
                    }
                }
                long[] done = {doneBefore};
                transformer.forwardEach(ablations, (a, ab) -> {
                    int li = at.get(a)[0];
                    int g0 = at.get(a)[1];
                    int g = at.get(a)[2];
                    scatter(score(ab.logits(), part, g, t), part, firstStep, g0, g, target, logprob[li], top1[li]);
                    done[0] += (long) r * g;
                    progress.update(phase, done[0], total);
                });
                doneBefore = done[0];
            }
        }
        return new Measured(target, baseLogprob, baseTop1, logprob, top1);
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
