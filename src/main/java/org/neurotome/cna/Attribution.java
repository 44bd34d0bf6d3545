package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.HeadScale;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Tap;
import org.neurotome.model.Weights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Log-probability-increase attribution (docs/method.md A2; Yu &amp; Ananiadou, EMNLP 2024, P2 §3 and
 * the {@code get_log_increase} of their notebooks): how much adding one component's output
 * to the residual stream raises {@code log p(target)} under the frozen final norm, for every
 * FFN neuron, every head and every attention/FFN layer, at the last position of each context.
 *
 * <p>Neurons are scored in one of two ways that agree to float32 rounding:
 * {@link NeuronPath#VALUE_PROJECTIONS} uses {@code u(base + m·value) = u(base) + (m/s)·
 * direction(value)} (u: the frozen projection before the final soft-cap), so a layer costs
 * one projection of its base plus a scaled add and a log-sum-exp per neuron over the (cached)
 * value directions; {@link NeuronPath#PER_NEURON} projects {@code base + m·value} into the
 * vocabulary once per neuron, as the reference code does.
 *
 * <p>Post-norms (Gemma 2, Gemma 3, OLMo 2) make a block's output non-additive in its parts; as
 * the reference does, each post-norm's scale is frozen at its value for the whole block output at that
 * position in that run: a head's vector is its frozen-gain share ({@link Tap#attnResult}), and
 * neuron k's is {@code m_k·value_k ⊙ (1 + w) / scale} with the scale of the run's own FFN
 * output ({@link Tap#ln2PostScale}).
 *
 * <p>Its length (about 740 lines) is the two neuron paths and the head and layer scores, which
 * share the frozen norm, the base projection and the post-norm scales of one run: kept
 * together so that the paths can be checked against each other number for number.
 */
public final class Attribution {
    /** How FFN neurons are scored. */
    public enum NeuronPath {
        /** One base projection per layer plus the cached value directions of all its neurons. */
        VALUE_PROJECTIONS,
        /** One vocabulary projection per neuron (the reference formula). */
        PER_NEURON
    }

    /**
     * @param neuronPath    how FFN neurons are scored
     * @param batchElements rough bound on the float elements of one batched forward's largest
     *                      intermediates
     * @param passBytes     bound on the bytes of the rows recorded before they are scored
     *                      together (a pass), besides half of what the memory budget has left
     *                      when the attribution is made ({@link #rowsPerPass})
     * @param progress      told after each batch of positions
     */
    public record Options(NeuronPath neuronPath, long batchElements, long passBytes, Progress progress) {
        public static final long DEFAULT_BATCH_ELEMENTS = 1L << 22;

        public Options {
            if (batchElements < 1) {
                throw new IllegalArgumentException("batchElements must be positive, got " + batchElements);
            }
            if (passBytes < 1) {
                throw new IllegalArgumentException("passBytes must be positive, got " + passBytes);
            }
        }

        /** Passes bounded by the memory budget alone. */
        public static Options defaults() {
            return new Options(NeuronPath.VALUE_PROJECTIONS, DEFAULT_BATCH_ELEMENTS, Long.MAX_VALUE, Progress.NONE);
        }

        public Options withNeuronPath(NeuronPath path) {
            return new Options(path, batchElements, passBytes, progress);
        }

        public Options withProgress(Progress p) {
            return new Options(neuronPath, batchElements, passBytes, p);
        }
    }

    /**
     * Elements of one [rows, neurons, V] block in the value-projection path: 4 MiB of floats,
     * small enough to stay in cache (measured here: blocks of 2^20 run the same scores about
     * three times faster than blocks of 2^24).
     */
    private static final long BLOCK_ELEMENTS = 1L << 20;
    /** Logits of the rows projected together at least (128 MiB of float32), when a forward's batch is smaller. */
    private static final long PROJECTION_ELEMENTS = 1L << 25;
    private static final int MIN_PROJECTION_ROWS = 16;

    private final LanguageModel model;
    private final VocabularyProjection projection;
    private final Options options;
    /** The bytes of one pass's recorded rows, fixed when the attribution is made ({@link #rowsPerPass}). */
    private final long passBytes;

    /**
     * Attribution on {@code model}, projecting through {@code projection} (built on the same
     * weights); its passes are sized now, from what the memory budget has left
     * ({@link #rowsPerPass}).
     */
    public Attribution(LanguageModel model, VocabularyProjection projection, Options options) {
        if (projection.weights() != model.weights()) {
            throw new IllegalArgumentException("the projection was built on other weights than the model's");
        }
        this.model = model;
        this.projection = projection;
        this.options = options;
        this.passBytes = Math.min(options.passBytes(), model.weights().memory().recordedRowsBytes());
    }

    public LanguageModel model() {
        return model;
    }

    public VocabularyProjection projection() {
        return projection;
    }

    public Options options() {
        return options;
    }

    /**
     * Scores every step of {@code prompts} and averages over them, every neuron and head
     * exactly or as {@code scoring} says; {@code keepSteps} also keeps each step's own scores.
     */
    public AttributionResult run(PromptSet prompts, boolean keepSteps, Scoring scoring) {
        return scoring.exhaustive() ? exhaustive(prompts, keepSteps)
                : BoundedRanking.attribution(this, prompts, keepSteps, scoring);
    }

    /**
     * Every neuron and head of every step scored exactly, in passes ({@link #passes}); the
     * mean is the sum of the passes' sums, added in pass order.
     */
    private AttributionResult exhaustive(PromptSet prompts, boolean keepSteps) {
        ModelConfig c = model.config();
        ComponentScores.Sum sum = new ComponentScores.Sum(c);
        List<StepScores> scored = new ArrayList<>();
        int steps = prompts.steps().size();
        int pass = rowsPerPass(prompts.maxContext());
        for (ComponentScores.Sum s : scorePasses(prompts, 0, steps, pass, keepSteps, scored)) {
            sum.add(s);
        }
        return new AttributionResult(prompts, scored, sum.mean(), Scoring.Summary.exhaustive(
                c.totalNeurons(), (long) c.numLayers() * c.numHeads()));
    }

    /**
     * How many passes the exhaustive attribution of {@code prompts} takes: its steps in order,
     * {@link #rowsPerPass} of them a pass (sized by the longest context of all of them). Which
     * steps share a pass decides their scores to the last bit (the pass's rows go through
     * each projection together), so a shard ({@link #runShard}) scores whole passes.
     */
    public int passes(PromptSet prompts) {
        return Math.ceilDiv(prompts.steps().size(), rowsPerPass(prompts.maxContext()));
    }

    /**
     * Shard {@code shard} (0-based) of {@code shards} of the exhaustive attribution of
     * {@code prompts}: its {@link #passes} split into {@code shards} runs of consecutive whole
     * passes, each scored as {@link #run} scores it, so {@link AttributionResult#merge} of the
     * shards is the unsharded result bit for bit. A shard past the number of passes is empty.
     */
    public AttributionShard runShard(PromptSet prompts, int shard, int shards) {
        if (shards < 1 || shard < 0 || shard >= shards) {
            throw NeurotomeException.badInput("shard " + shard + " of " + shards + ": want 0 <= shard < shards");
        }
        int steps = prompts.steps().size();
        int pass = rowsPerPass(prompts.maxContext());
        int passes = Math.ceilDiv(steps, pass);
        int from = (int) Math.min(steps, (long) shard * passes / shards * pass);
        int to = (int) Math.min(steps, (long) (shard + 1) * passes / shards * pass);
        List<StepScores> scored = new ArrayList<>();
        List<ComponentScores.Sum> sums = scorePasses(prompts, from, to, pass, false, scored);
        return new AttributionShard(shard, shards, prompts.digest(), pass, from, scored, sums);
    }

    /**
     * Scores steps {@code from} to {@code to − 1} of {@code prompts} in passes of {@code pass}
     * steps counted from {@code from}, adding each step's outcome to {@code scored} (with its
     * scores when {@code keepSteps}); returns each pass's sum of its steps' scores, in step order.
     */
    private List<ComponentScores.Sum> scorePasses(PromptSet prompts, int from, int to, int pass, boolean keepSteps,
                                                  List<StepScores> scored) {
        List<PromptSet.Step> steps = prompts.steps();
        List<ComponentScores.Sum> sums = new ArrayList<>();
        for (int at = from, n; at < to; at += n) {
            n = Math.min(pass, to - at);
            List<PromptSet.Step> part = steps.subList(at, at + n);
            ComponentScores.Sum sum = new ComponentScores.Sum(model.config());
            for (StepScores s : score(contexts(part), List.of(), targets(part), null)) {
                sum.add(s.scores());
                scored.add(keepSteps ? s : new StepScores(s.target(), s.logprob(), s.norm(), null));
            }
            sums.add(sum);
            options.progress().update("positions", scored.size(), to - from);
        }
        return sums;
    }

    /**
     * Scores each context at its last position, with the heads {@code ablate} zeroed at every
     * position. {@code targets[i]} is the token scored (−1: the run's own top-1);
     * {@code norms}, when not null, freezes row i's final norm at {@code norms.get(i)} instead
     * of its own final residual (CNA scores a second run with the first run's norm).
     */
    public List<StepScores> score(List<int[]> contexts, List<Head> ablate, int[] targets, List<FrozenNorm> norms) {
        try (Recorded r = record(contexts, ablate, targets, norms)) {
            return scoreRecorded(List.of(r)).getFirst();
        }
    }

    /**
     * Rows of one batched forward, from {@link Options#batchElements()}: taps of every layer
     * plus the widest activation.
     */
    int rowsPerBatch(int maxLen) {
        ModelConfig c = model.config();
        long d = c.hiddenSize();
        long perRow = c.numLayers() * ((long) c.numHeads() * d + c.maxFfnWidth() + 6 * d)
                + (long) maxLen * Math.max(Math.max(d, 2L * c.maxFfnWidth()), (long) c.numHeads() * maxLen)
                + c.vocabSize() * (long) (c.numHeads() + 4);
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, options.batchElements() / perRow));
    }

    /**
     * Rows whose layer scores are projected into the vocabulary together: a forward's batch
     * ({@link #rowsPerBatch}), but at least as many as {@value #PROJECTION_ELEMENTS} logits hold
     * with every head's (up to {@value #MIN_PROJECTION_ROWS}). A product of one or two rows reads
     * the whole unembedding for a few rows of arithmetic; where the taps of every layer leave a
     * forward one or two rows (a 7B model), the projections of a prompt set would re-read the
     * unembedding hundreds of times per layer.
     */
    private int rowsPerProjection() {
        ModelConfig c = model.config();
        long perRow = c.vocabSize() * (long) (c.numHeads() + 4);
        return Math.max(rowsPerBatch(1), (int) Math.clamp(PROJECTION_ELEMENTS / perRow, 1, MIN_PROJECTION_ROWS));
    }

    /**
     * Rows recorded before they are scored together (a pass): as many as the bytes fixed when
     * the attribution was made hold (their taps at every layer and one vocabulary row each), at
     * least one batch. Scoring them together projects each layer's value vectors once for all
     * of them, and a streamed model's layers are read once per pass. A function of the model's
     * shape, {@code maxLen} and that fixed share alone, so the same prompts are split into the
     * same passes by every run of one attribution.
     */
    int rowsPerPass(int maxLen) {
        ModelConfig c = model.config();
        long d = c.hiddenSize();
        long perRow = 4 * (c.numLayers() * ((long) c.numHeads() * d + 2L * c.maxFfnWidth() + 5 * d)
                + 2L * c.vocabSize());
        return (int) Math.max(rowsPerBatch(maxLen), Math.min(Integer.MAX_VALUE, passBytes / perRow));
    }

    /**
     * What scoring needs of a group of rows, recorded at each row's last position by their
     * forward passes: the scored token, its log-probability, the frozen norm, and per layer
     * the residual before and after attention, each head's result, the attention and FFN
     * outputs and the FFN coefficients ([R, …] arrays owned by this record).
     */
    static final class Recorded implements AutoCloseable {
        final NDManager manager;
        final int[] target;
        final float[] logprob;
        final FrozenNorm[] norm;
        final NDArray[] pre;
        final NDArray[] mid;
        final NDArray[] heads;
        final NDArray[] attnOut;
        final NDArray[] post;
        final NDArray[] mlpOut;
        /** Per layer, each row's post-FFN norm scale (Gemma 2), or null without post-norms. */
        final float[][] postScale;

        Recorded(NDManager manager, int rows, int layers, boolean postNorms) {
            this.manager = manager;
            this.target = new int[rows];
            this.logprob = new float[rows];
            this.norm = new FrozenNorm[rows];
            this.pre = new NDArray[layers];
            this.mid = new NDArray[layers];
            this.heads = new NDArray[layers];
            this.attnOut = new NDArray[layers];
            this.post = new NDArray[layers];
            this.mlpOut = new NDArray[layers];
            this.postScale = postNorms ? new float[layers][rows] : null;
        }

        int rows() {
            return target.length;
        }

        List<FrozenNorm> norms() {
            return Arrays.asList(norm);
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /**
     * Runs the forward passes of {@code contexts} (batched, layer-major when the weights are
     * streamed) and records what {@link #scoreRecorded} needs; arguments as {@link #score}.
     */
    Recorded record(List<int[]> contexts, List<Head> ablate, int[] targets, List<FrozenNorm> norms) {
        if (targets.length != contexts.size() || norms != null && norms.size() != contexts.size()) {
            throw new IllegalArgumentException("one target (and norm) per context");
        }
        ModelConfig c = model.config();
        for (Head h : ablate) {
            h.check(c);
        }
        for (int t : targets) {
            if (t >= c.vocabSize()) {
                throw NeurotomeException.badInput("target id " + t + " is outside the vocabulary of size "
                        + c.vocabSize());
            }
        }
        int layers = c.numLayers();
        List<String> taps = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            taps.addAll(List.of(Tap.residPre(l), Tap.residMid(l), Tap.attnResult(l), Tap.attnOut(l), Tap.mlpPost(l),
                    Tap.mlpOut(l)));
        }
        boolean postNorms = model.weights().architecture().declares(Role.LN2_POST);
        if (postNorms) {
            for (int l = 0; l < layers; l++) {
                taps.add(Tap.ln2PostScale(l));
            }
        }
        taps.add(Tap.residPost(layers - 1));
        int maxLen = contexts.stream().mapToInt(a -> a.length).max().orElse(1);
        int chunk = rowsPerBatch(maxLen);
        List<ForwardRequest> requests = new ArrayList<>();
        for (int from = 0; from < contexts.size(); from += chunk) {
            List<int[]> part = contexts.subList(from, Math.min(contexts.size(), from + chunk));
            List<HeadScale> scales = new ArrayList<>();
            for (int r = 0; r < part.size(); r++) {
                for (Head h : ablate) {
                    scales.add(new HeadScale(r, h.layer(), h.head(), 0f));
                }
            }
            requests.add(ForwardRequest.tokens(part).withTaps(taps).withHeadScales(scales));
        }
        Recorded rec = new Recorded(model.weights().manager().newSubManager(), contexts.size(), layers, postNorms);
        List<List<NDArray>> parts = new ArrayList<>();
        for (int i = 0; i < 6 * layers; i++) {
            parts.add(new ArrayList<>());
        }
        int d = c.hiddenSize();
        try (NDScope scope = new NDScope()) {
            model.transformer().forwardEach(requests, (i, fr) -> {
                int first = i * chunk;
                int rows = fr.batchSize();
                model.requireFinite(fr.logits());
                long[] top = fr.logits().argMax(1).toLongArray();
                for (int r = 0; r < rows; r++) {
                    rec.target[first + r] = targets[first + r] >= 0 ? targets[first + r] : Math.toIntExact(top[r]);
                }
                NDArray idx = fr.logits().getManager().create(longs(Arrays.copyOfRange(rec.target, first, first + rows),
                        1), new Shape(rows, 1));
                System.arraycopy(pick(fr.logits(), idx), 0, rec.logprob, first, rows);
                float[] last = fr.tap(Tap.residPost(layers - 1)).toFloatArray();                  // [R·D]
                for (int r = 0; r < rows; r++) {
                    rec.norm[first + r] = norms != null && norms.get(first + r) != null ? norms.get(first + r)
                            : FrozenNorm.of(Arrays.copyOfRange(last, r * d, (r + 1) * d), model.weights().normKind(),
                            model.weights().normEps());
                }
                for (int l = 0; l < layers; l++) {
                    if (postNorms) {
                        System.arraycopy(fr.tap(Tap.ln2PostScale(l)).toFloatArray(), 0, rec.postScale[l], first, rows);
                    }
                    String[] names = {Tap.residPre(l), Tap.residMid(l), Tap.attnResult(l), Tap.attnOut(l),
                            Tap.mlpPost(l), Tap.mlpOut(l)};
                    for (int k = 0; k < names.length; k++) {
                        NDArray t = fr.tap(names[k]);
                        NDScope.unregister(t);
                        t.attach(rec.manager);
                        parts.get(6 * l + k).add(t);
                    }
                }
            });
        } catch (RuntimeException | Error e) {
            rec.close();
            throw e;
        }
        for (int l = 0; l < layers; l++) {
            NDArray[][] into = {rec.pre, rec.mid, rec.heads, rec.attnOut, rec.post, rec.mlpOut};
            for (int k = 0; k < into.length; k++) {
                List<NDArray> p = parts.get(6 * l + k);
                NDArray all = p.size() == 1 ? p.getFirst() : NDArrays.concat(new NDList(p), 0);
                if (p.size() > 1) {
                    NDScope.unregister(all);
                    all.attach(rec.manager);
                    p.forEach(NDArray::close);
                }
                into[k][l] = all;
            }
        }
        return rec;
    }

    /**
     * Scores recorded rows, layer by layer; several records of this model are scored together,
     * so each layer's value vectors are read and projected once for all of their rows.
     */
    List<List<StepScores>> scoreRecorded(List<Recorded> records) {
        ModelConfig c = model.config();
        int layers = c.numLayers();
        int heads = c.numHeads();
        Rows all = new Rows(records);
        int rows = all.size();
        float[][][] neuron = new float[rows][layers][];
        float[][][] coef = new float[rows][layers][];
        float[][][] head = new float[rows][layers][];
        double[][] neuronBase = new double[rows][layers];
        double[][] headBase = new double[rows][layers];
        double[][] attention = new double[rows][layers];
        double[][] ffn = new double[rows][layers];
        for (int l = 0; l < layers; l++) {
            int ffnSize = c.ffnWidth(l);
            try (NDScope layerScope = new NDScope(); Weights.Lease<NDArray> values = model.weights().ffnValues(l)) {
                Layer in = layer(records, l, all);
                LayerScores ls = layerScores(in, all, true);
                float[][] nl = options.neuronPath() == NeuronPath.VALUE_PROJECTIONS
                        ? neuronsByValueProjections(l, values.get(), in.baseU, in.post, in.valueScale, all.target, in.nb)
                        : neuronsOneByOne(l, values.get(), in.mid, in.post, all.s, in.postScale, all.target, in.nb,
                        java.util.stream.IntStream.range(0, ffnSize).toArray());
                float[] cf = in.post.toFloatArray();
                for (int r = 0; r < rows; r++) {
                    neuron[r][l] = nl[r];
                    coef[r][l] = Arrays.copyOfRange(cf, r * ffnSize, (r + 1) * ffnSize);
                    head[r][l] = new float[heads];
                    for (int h = 0; h < heads; h++) {
                        head[r][l][h] = ls.hd[r * heads + h] - ls.hb[r];
                    }
                    neuronBase[r][l] = in.nb[r];
                    headBase[r][l] = ls.hb[r];
                    attention[r][l] = ls.att[r] - ls.hb[r];
                    ffn[r][l] = ls.ff[r] - in.nb[r];
                }
            }
            options.progress().update("layers scored", l + 1, layers);
        }
        List<List<StepScores>> out = new ArrayList<>();
        int at = 0;
        for (Recorded rec : records) {
            List<StepScores> one = new ArrayList<>();
            for (int i = 0; i < rec.rows(); i++, at++) {
                one.add(new StepScores(rec.target[i], rec.logprob[i], rec.norm[i], new ComponentScores(neuron[at],
                        coef[at], neuronBase[at], head[at], headBase[at], attention[at], ffn[at])));
            }
            out.add(one);
        }
        return out;
    }

    /** The rows of several records, joined in record order: each row's target and frozen-norm scale. */
    static final class Rows {
        final int[] target;
        final float[] s;

        Rows(List<Recorded> records) {
            int rows = records.stream().mapToInt(Recorded::rows).sum();
            target = new int[rows];
            s = new float[rows];
            int at = 0;
            for (Recorded r : records) {
                for (int i = 0; i < r.rows(); i++, at++) {
                    target[at] = r.target[i];
                    s[at] = (float) r.norm[i].scale();
                }
            }
        }

        int size() {
            return target.length;
        }
    }

    /**
     * Layer {@code l} of several records' rows, joined, and what every score of the layer starts
     * from: the neurons' base projected ({@code baseU}, uncapped) and its log-probabilities
     * ({@code nb}), each row's divisor of the FFN coefficients ({@code valueScale}: the frozen
     * scale, times the post-FFN norm's scale where there is one). Temporaries of the caller's scope.
     */
    static final class Layer {
        final int index;
        NDArray pre;
        NDArray mid;
        NDArray post;
        NDArray attnOut;
        NDArray mlpOut;
        NDArray perHeadOut;
        NDArray idx;
        NDArray baseU;
        float[] nb;
        float[] postScale;
        float[] valueScale;

        Layer(int index) {
            this.index = index;
        }

        /** {@code post / valueScale} [R, I]: each neuron's coefficient as its direction enters {@code baseU}. */
        NDArray coefficients() {
            return post.div(post.getManager().create(valueScale, new Shape(valueScale.length, 1)));
        }
    }

    Layer layer(List<Recorded> records, int l, Rows all) {
        Layer in = taps(records, l, all);
        in.baseU = projection.uncapped(in.mid, all.s);                                        // [R, V]
        in.nb = pick(projection.cap(in.baseU), in.idx);
        return in;
    }

    /** {@link #layer} without the projection of its base ({@code baseU} and {@code nb} null): what was recorded, joined. */
    Layer taps(List<Recorded> records, int l, Rows all) {
        int rows = all.size();
        Layer in = new Layer(l);
        in.pre = joined(records, l, r -> r.pre);                                              // [R, D]
        in.mid = joined(records, l, r -> r.mid);                                              // [R, D]
        in.post = joined(records, l, r -> r.post);                                            // [R, I]
        in.attnOut = joined(records, l, r -> r.attnOut);                                      // [R, D]
        in.mlpOut = joined(records, l, r -> r.mlpOut);                                        // [R, D]
        in.perHeadOut = joined(records, l, r -> r.heads);                                     // [R, H, D]
        NDManager m = in.pre.getManager();
        in.idx = m.create(longs(all.target, 1), new Shape(rows, 1));
        // a neuron's value reaches the residual divided by the post-FFN norm's scale, if any
        in.postScale = postScales(records, l, rows);
        in.valueScale = all.s.clone();
        for (int r = 0; in.postScale != null && r < rows; r++) {
            in.valueScale[r] *= in.postScale[r];
        }
        return in;
    }

    /** A layer's base log-probabilities: of the heads' base, with the attention output, with the FFN output; per head when asked. */
    record LayerScores(float[] hb, float[] att, float[] ff, float[] hd) {
    }

    LayerScores layerScores(Layer in, Rows all, boolean withHeads) {
        ModelConfig c = model.config();
        int heads = c.numHeads();
        int rows = all.size();
        int chunk = rowsPerProjection();
        NDManager m = in.pre.getManager();
        float[] hb = new float[rows];
        float[] att = new float[rows];
        float[] ff = new float[rows];
        float[] hd = withHeads ? new float[rows * heads] : null;
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int r1 = Math.min(rows, r0 + chunk);
            int n = r1 - r0;
            try (NDScope scope = new NDScope()) {
                NDIndex part = new NDIndex(r0 + ":" + r1);
                float[] sc = Arrays.copyOfRange(all.s, r0, r1);
                int[] tg = Arrays.copyOfRange(all.target, r0, r1);
                NDArray ix = m.create(longs(tg, 1), new Shape(n, 1));
                NDArray p = in.pre.get(part);
                System.arraycopy(pick(projection.logits(p, sc), ix), 0, hb, r0, n);
                System.arraycopy(pick(projection.logits(p.add(in.attnOut.get(part)), sc), ix), 0, att, r0, n);
                System.arraycopy(pick(projection.logits(in.mid.get(part).add(in.mlpOut.get(part)), sc), ix), 0, ff,
                        r0, n);
                if (withHeads) {
                    headsInto(p, in.perHeadOut.get(part), sc, tg, hd, r0);
                }
            }
        }
        return new LayerScores(hb, att, ff, hd);
    }

    /**
     * The log-probabilities with each head's output alone added to its base, of layer {@code l}
     * at every row [R·H], computed as {@link #layerScores} computes them (so the same numbers),
     * without the layer's other scores.
     */
    float[] headScores(List<Recorded> records, int l, Rows all) {
        int rows = all.size();
        int chunk = rowsPerProjection();
        float[] hd = new float[rows * model.config().numHeads()];
        NDArray pre = joined(records, l, r -> r.pre);                                          // [R, D]
        NDArray perHead = joined(records, l, r -> r.heads);                                    // [R, H, D]
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int r1 = Math.min(rows, r0 + chunk);
            try (NDScope scope = new NDScope()) {
                NDIndex part = new NDIndex(r0 + ":" + r1);
                headsInto(pre.get(part), perHead.get(part), Arrays.copyOfRange(all.s, r0, r1),
                        Arrays.copyOfRange(all.target, r0, r1), hd, r0);
            }
        }
        return hd;
    }

    /** Rows {@code r0 …} of {@code hd}: the target's log-probability of base {@code p} [n, D] plus each head's output [n, H, D]. */
    private void headsInto(NDArray p, NDArray perHead, float[] sc, int[] tg, float[] hd, int r0) {
        int heads = model.config().numHeads();
        int n = tg.length;
        float[] sHeads = new float[n * heads];
        for (int i = 0; i < sHeads.length; i++) {
            sHeads[i] = sc[i / heads];
        }
        NDArray byHead = p.expandDims(1).add(perHead)                                          // [n, H, D]
                .reshape((long) n * heads, model.config().hiddenSize());
        System.arraycopy(pick(projection.logits(byHead, sHeads),
                p.getManager().create(longs(tg, heads), new Shape((long) n * heads, 1))), 0, hd, r0 * heads, n * heads);
    }

    /**
     * The increases of the listed neurons of layer {@code in} at every row [R][n], computed as
     * the full layer's are ({@link NeuronPath}), with {@code values} the layer's value vectors.
     */
    float[][] neuronsAt(Layer in, NDArray values, int[] neurons, Rows all) {
        int rows = all.size();
        float[][] out = new float[rows][neurons.length];
        if (options.neuronPath() == NeuronPath.PER_NEURON) {
            return neuronsOneByOne(in.index, values, in.mid, in.post, all.s, in.postScale, all.target, in.nb, neurons);
        }
        NDManager m = in.baseU.getManager();
        NDArray idx = m.create(Arrays.stream(neurons).asLongStream().toArray());
        NDArray a = in.coefficients().transpose().get(idx).transpose();                        // [R, n]
        int block = Math.clamp(BLOCK_ELEMENTS / projection.vocabSize(), 1, neurons.length);
        for (int k0 = 0; k0 < neurons.length; k0 += block) {
            int k1 = Math.min(neurons.length, k0 + block);
            try (NDScope scope = new NDScope()) {
                NDArray dirs = projection.valueDirections(in.index, values, Arrays.copyOfRange(neurons, k0, k1));
                scoreBlock(dirs, k0, k0, k1, a, in.baseU, all.target, in.nb, out);
            }
        }
        return out;
    }

    /** Layer {@code l}'s post-FFN norm scales of every record's rows, joined, or null without post-norms. */
    private static float[] postScales(List<Recorded> records, int l, int rows) {
        if (records.getFirst().postScale == null) {
            return null;
        }
        float[] out = new float[rows];
        int at = 0;
        for (Recorded r : records) {
            System.arraycopy(r.postScale[l], 0, out, at, r.rows());
            at += r.rows();
        }
        return out;
    }

    /** Layer {@code l}'s array of every record, rows joined in record order (a temporary of the caller's scope). */
    private static NDArray joined(List<Recorded> records, int l, java.util.function.Function<Recorded, NDArray[]> field) {
        if (records.size() == 1) {
            return field.apply(records.getFirst())[l];
        }
        NDList parts = new NDList();
        records.forEach(r -> parts.add(field.apply(r)[l]));
        return NDArrays.concat(parts, 0);
    }

    /**
     * All neurons of layer {@code l}: {@code log_softmax(cap(u(base) + (m_k/s)·direction_k))[target]}
     * minus the base log-probability. Directions are read from the cache or projected in large
     * blocks of neurons (as many as a quarter of the memory budget's remainder holds, so the
     * unembedding is read once per block in a compute-bound product, not once per few neurons),
     * and scored in cache-sized blocks of neurons × V and, within those, of rows × neurons × V.
     * {@code s} is each row's divisor of {@code m_k}: the frozen final-norm scale (times the
     * post-FFN norm's scale).
     */
    private float[][] neuronsByValueProjections(int l, NDArray values, NDArray baseU, NDArray post, float[] s,
                                                int[] target, float[] base) {
        int rows = s.length;
        int neurons = model.config().ffnWidth(l);
        long vocab = projection.vocabSize();
        float[][] out = new float[rows][neurons];
        NDManager m = baseU.getManager();
        NDArray a = post.div(m.create(s, new Shape(rows, 1)));                                // [R, I]: m_k / s
        int block = Math.clamp(BLOCK_ELEMENTS / vocab, 1, neurons);
        long room = model.weights().memory().projectedFloats(BLOCK_ELEMENTS);
        int projected = (int) Math.clamp(room / vocab / block * block, block, neurons);
        for (int p0 = 0; p0 < neurons; p0 += projected) {
            int p1 = Math.min(neurons, p0 + projected);
            try (NDScope projectedScope = new NDScope()) {
                NDArray directions = projection.valueDirections(l, values, p0, p1);             // [p, V]
                for (int k0 = p0; k0 < p1; k0 += block) {
                    scoreBlock(directions, p0, k0, Math.min(p1, k0 + block), a, baseU, target, base, out);
                }
            }
        }
        return out;
    }

    /** Scores neurons {@code k0 … k1−1} of one layer from their directions, rows {@code p0…} of {@code directions}. */
    private void scoreBlock(NDArray directions, int p0, int k0, int k1, NDArray a, NDArray baseU, int[] target,
                            float[] base, float[][] out) {
        int rows = target.length;
        long vocab = projection.vocabSize();
        NDManager m = baseU.getManager();
        int width = k1 - k0;
        int rowBlock = Math.clamp(BLOCK_ELEMENTS / (width * vocab), 1, rows);
        try (NDScope blockScope = new NDScope()) {
            NDArray dirs = directions.get(new NDIndex((k0 - p0) + ":" + (k1 - p0))).expandDims(0);      // [1, c, V]
            for (int r0 = 0; r0 < rows; r0 += rowBlock) {
                int r1 = Math.min(rows, r0 + rowBlock);
                int n = r1 - r0;
                try (NDScope scope = new NDScope()) {
                    NDArray x = projection.cap(a.get(new NDIndex(r0 + ":" + r1 + ", " + k0 + ":" + k1))
                            .expandDims(2).mul(dirs)
                            .add(baseU.get(new NDIndex(r0 + ":" + r1)).expandDims(1)));      // [n, c, V]
                    long[] t = new long[n * width];
                    for (int i = 0; i < t.length; i++) {
                        t[i] = target[r0 + i / width];
                    }
                    float[] lp = x.logSoftmax(2).gather(m.create(t, new Shape(n, width, 1)), 2).toFloatArray();
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j < width; j++) {
                            out[r0 + i][k0 + j] = lp[i * width + j] - base[r0 + i];
                        }
                    }
                }
            }
        }
    }

    /**
     * The reference formula: {@code base + m_k·value_k} projected into the vocabulary once per
     * neuron, from layer {@code l}'s value vectors {@code values} [I, D]; {@code postScale},
     * when not null, is each row's post-FFN norm scale dividing the value.
     */
    private float[][] neuronsOneByOne(int l, NDArray values, NDArray mid, NDArray post, float[] s, float[] postScale,
                                      int[] target, float[] base, int[] neurons) {
        int rows = s.length;
        int d = model.config().hiddenSize();
        float[][] out = new float[rows][neurons.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < neurons.length; j++) {
                int k = neurons[j];
                try (NDScope scope = new NDScope()) {
                    NDArray value = projection.values(l, values, new NDIndex(k + ":" + (k + 1))).reshape(d);  // [D]
                    NDArray m = post.get(r, k);
                    if (postScale != null) {
                        m = m.div(m.getManager().full(new Shape(), postScale[r]));
                    }
                    NDArray z = mid.get(r).add(value.mul(m)).reshape(1, d);
                    float lp = projection.logits(z, new float[] {s[r]}).logSoftmax(1).get(0, target[r]).getFloat();
                    out[r][j] = lp - base[r];
                }
            }
        }
        return out;
    }

    /** {@code log_softmax(logits)[row, idx[row]]} for logits [N, V] and idx [N, 1]. */
    static float[] pick(NDArray logits, NDArray idx) {
        return logits.logSoftmax(1).gather(idx, 1).toFloatArray();
    }

    /** Each of {@code v} repeated {@code times} times in a row. */
    static long[] longs(int[] v, int times) {
        long[] out = new long[v.length * times];
        for (int i = 0; i < out.length; i++) {
            out[i] = v[i / times];
        }
        return out;
    }

    static List<int[]> contexts(List<PromptSet.Step> steps) {
        return steps.stream().map(PromptSet.Step::context).toList();
    }

    static int[] targets(List<PromptSet.Step> steps) {
        return steps.stream().mapToInt(PromptSet.Step::target).toArray();
    }
}
