package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;
import org.neurotome.arch.ModelConfig;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.HeadScale;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Tap;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Log-probability-increase attribution (METHOD.md A2; Yu &amp; Ananiadou, EMNLP 2024, P2 §3 and
 * the {@code get_log_increase} of their notebooks): how much adding one component's output
 * to the residual stream raises {@code log p(target)} under the frozen final norm, for every
 * FFN neuron, every head and every attention/FFN layer, at the last position of each context.
 *
 * <p>Neurons are scored in one of two ways that agree to float32 rounding:
 * {@link NeuronPath#VALUE_PROJECTIONS} uses {@code bs(base + m·value) = bs(base) + (m/s)·
 * direction(value)}, so a layer costs one projection of its base plus a scaled add and a
 * log-sum-exp per neuron over the (cached) value directions; {@link NeuronPath#PER_NEURON}
 * projects {@code base + m·value} into the vocabulary once per neuron, as the reference code
 * does.
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
     *                      intermediates; bounds memory, not results
     * @param progress      told after each batch of positions
     */
    public record Options(NeuronPath neuronPath, long batchElements, Progress progress) {
        public static final long DEFAULT_BATCH_ELEMENTS = 1L << 22;

        public Options {
            if (batchElements < 1) {
                throw new IllegalArgumentException("batchElements must be positive, got " + batchElements);
            }
        }

        public static Options defaults() {
            return new Options(NeuronPath.VALUE_PROJECTIONS, DEFAULT_BATCH_ELEMENTS, Progress.NONE);
        }

        public Options withNeuronPath(NeuronPath path) {
            return new Options(path, batchElements, progress);
        }

        public Options withProgress(Progress p) {
            return new Options(neuronPath, batchElements, p);
        }
    }

    /**
     * Elements of one [rows, neurons, V] block in the value-projection path: 4 MiB of floats,
     * small enough to stay in cache (measured here: blocks of 2^20 run the same scores about
     * three times faster than blocks of 2^24).
     */
    private static final long BLOCK_ELEMENTS = 1L << 20;

    private final LanguageModel model;
    private final VocabularyProjection projection;
    private final Options options;

    /** Attribution on {@code model}, projecting through {@code projection} (built on the same weights). */
    public Attribution(LanguageModel model, VocabularyProjection projection, Options options) {
        if (projection.weights() != model.weights()) {
            throw new IllegalArgumentException("the projection was built on other weights than the model's");
        }
        this.model = model;
        this.projection = projection;
        this.options = options;
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
     * Scores every step of {@code prompts} and averages over them; {@code keepSteps} also
     * keeps each step's own scores.
     */
    public AttributionResult run(PromptSet prompts, boolean keepSteps) {
        ModelConfig c = model.config();
        List<PromptSet.Step> steps = prompts.steps();
        ComponentScores.Sum sum = new ComponentScores.Sum(c.numLayers(), c.numHeads(), c.ffnSize());
        List<StepScores> scored = new ArrayList<>();
        int chunk = rowsPerBatch(prompts.maxContext());
        for (int from = 0; from < steps.size(); from += chunk) {
            List<PromptSet.Step> part = steps.subList(from, Math.min(steps.size(), from + chunk));
            for (StepScores s : score(contexts(part), List.of(), targets(part), null)) {
                sum.add(s.scores());
                scored.add(keepSteps ? s : new StepScores(s.target(), s.logprob(), s.norm(), null));
            }
            options.progress().update("positions", scored.size(), steps.size());
        }
        return new AttributionResult(prompts, scored, sum.mean());
    }

    /**
     * Scores each context at its last position, with the heads {@code ablate} zeroed at every
     * position. {@code targets[i]} is the token scored (−1: the run's own top-1);
     * {@code norms}, when not null, freezes row i's final norm at {@code norms.get(i)} instead
     * of its own final residual (CNA scores a second run with the first run's norm).
     */
    public List<StepScores> score(List<int[]> contexts, List<Head> ablate, int[] targets, List<FrozenNorm> norms) {
        if (targets.length != contexts.size() || norms != null && norms.size() != contexts.size()) {
            throw new IllegalArgumentException("one target (and norm) per context");
        }
        for (Head h : ablate) {
            h.check(model.config());
        }
        int maxLen = contexts.stream().mapToInt(a -> a.length).max().orElse(1);
        int chunk = rowsPerBatch(maxLen);
        List<StepScores> out = new ArrayList<>();
        for (int from = 0; from < contexts.size(); from += chunk) {
            int to = Math.min(contexts.size(), from + chunk);
            out.addAll(scoreBatch(contexts.subList(from, to), ablate, Arrays.copyOfRange(targets, from, to),
                    norms == null ? null : norms.subList(from, to)));
        }
        return out;
    }

    /** Rows of one batched forward, from {@link Options#batchElements()}: taps of every layer plus the widest activation. */
    int rowsPerBatch(int maxLen) {
        ModelConfig c = model.config();
        long d = c.hiddenSize();
        long perRow = c.numLayers() * ((long) c.numHeads() * d + c.ffnSize() + 6 * d)
                + (long) maxLen * Math.max(Math.max(d, 2L * c.ffnSize()), (long) c.numHeads() * maxLen)
                + c.vocabSize() * (long) (c.numHeads() + 4);
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, options.batchElements() / perRow));
    }

    private List<StepScores> scoreBatch(List<int[]> contexts, List<Head> ablate, int[] targets, List<FrozenNorm> norms) {
        ModelConfig c = model.config();
        int layers = c.numLayers();
        int rows = contexts.size();
        List<String> taps = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            taps.addAll(List.of(Tap.residPre(l), Tap.residMid(l), Tap.attnResult(l), Tap.attnOut(l), Tap.mlpPost(l),
                    Tap.mlpOut(l)));
        }
        taps.add(Tap.residPost(layers - 1));
        List<HeadScale> scales = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            for (Head h : ablate) {
                scales.add(new HeadScale(r, h.layer(), h.head(), 0f));
            }
        }
        ForwardRequest request = ForwardRequest.tokens(contexts).withTaps(taps).withHeadScales(scales);
        int[] target = new int[rows];
        float[] logprob;
        FrozenNorm[] norm = new FrozenNorm[rows];
        float[][][] neuron = new float[rows][layers][];
        float[][][] coef = new float[rows][layers][];
        float[][][] head = new float[rows][layers][];
        double[][] neuronBase = new double[rows][layers];
        double[][] headBase = new double[rows][layers];
        double[][] attention = new double[rows][layers];
        double[][] ffn = new double[rows][layers];
        try (NDScope scope = new NDScope(); ForwardResult fr = model.transformer().forward(request)) {
            NDArray logits = fr.logits();                                                  // [R, V]
            model.requireFinite(logits);
            long[] top = logits.argMax(1).toLongArray();
            for (int r = 0; r < rows; r++) {
                if (targets[r] >= c.vocabSize()) {
                    throw NeurotomeException.badInput("target id " + targets[r] + " is outside the vocabulary of size "
                            + c.vocabSize());
                }
                target[r] = targets[r] >= 0 ? targets[r] : Math.toIntExact(top[r]);
            }
            NDManager m = logits.getManager();
            NDArray idx = m.create(longs(target, 1), new Shape(rows, 1));
            logprob = pick(logits, idx);
            float[] last = fr.tap(Tap.residPost(layers - 1)).toFloatArray();                  // [R·D]
            float[] s = new float[rows];
            int d = c.hiddenSize();
            for (int r = 0; r < rows; r++) {
                norm[r] = norms != null && norms.get(r) != null ? norms.get(r)
                        : FrozenNorm.of(Arrays.copyOfRange(last, r * d, (r + 1) * d), model.weights().normKind(),
                        model.weights().normEps());
                s[r] = (float) norm[r].scale();
            }
            int heads = c.numHeads();
            NDArray idxHeads = m.create(longs(target, heads), new Shape((long) rows * heads, 1));
            float[] sHeads = new float[rows * heads];
            for (int i = 0; i < sHeads.length; i++) {
                sHeads[i] = s[i / heads];
            }
            for (int l = 0; l < layers; l++) {
                try (NDScope layerScope = new NDScope()) {
                    NDArray pre = fr.tap(Tap.residPre(l));                                    // [R, D]
                    NDArray mid = fr.tap(Tap.residMid(l));                                    // [R, D]
                    NDArray post = fr.tap(Tap.mlpPost(l));                                    // [R, I]
                    NDArray baseN = projection.logits(mid, s);                                // [R, V]
                    float[] nb = pick(baseN, idx);
                    float[] hb = pick(projection.logits(pre, s), idx);
                    float[] att = pick(projection.logits(pre.add(fr.tap(Tap.attnOut(l))), s), idx);
                    float[] ff = pick(projection.logits(mid.add(fr.tap(Tap.mlpOut(l))), s), idx);
                    NDArray perHead = pre.expandDims(1).add(fr.tap(Tap.attnResult(l)))       // [R, H, D]
                            .reshape((long) rows * heads, d);
                    float[] hd = pick(projection.logits(perHead, sHeads), idxHeads);
                    float[][] nl = options.neuronPath() == NeuronPath.VALUE_PROJECTIONS
                            ? neuronsByValueProjections(l, baseN, post, s, target, nb)
                            : neuronsOneByOne(l, mid, post, s, target, nb);
                    float[] cf = post.toFloatArray();
                    int ffnSize = c.ffnSize();
                    for (int r = 0; r < rows; r++) {
                        neuron[r][l] = nl[r];
                        coef[r][l] = Arrays.copyOfRange(cf, r * ffnSize, (r + 1) * ffnSize);
                        head[r][l] = new float[heads];
                        for (int h = 0; h < heads; h++) {
                            head[r][l][h] = hd[r * heads + h] - hb[r];
                        }
                        neuronBase[r][l] = nb[r];
                        headBase[r][l] = hb[r];
                        attention[r][l] = att[r] - hb[r];
                        ffn[r][l] = ff[r] - nb[r];
                    }
                }
            }
        }
        List<StepScores> out = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            out.add(new StepScores(target[r], logprob[r], norm[r], new ComponentScores(neuron[r], coef[r],
                    neuronBase[r], head[r], headBase[r], attention[r], ffn[r])));
        }
        return out;
    }

    /**
     * All neurons of layer {@code l}: {@code log_softmax(bs(base) + (m_k/s)·direction_k)[target]}
     * minus the base log-probability, in blocks of neurons × V (each block's directions read
     * or projected once) and, within a block, of rows × neurons × V.
     */
    private float[][] neuronsByValueProjections(int l, NDArray baseN, NDArray post, float[] s, int[] target,
                                                float[] base) {
        int rows = s.length;
        int neurons = model.config().ffnSize();
        long vocab = projection.vocabSize();
        float[][] out = new float[rows][neurons];
        NDManager m = baseN.getManager();
        NDArray a = post.div(m.create(s, new Shape(rows, 1)));                                // [R, I]: m_k / s
        int block = Math.clamp(BLOCK_ELEMENTS / vocab, 1, neurons);
        for (int k0 = 0; k0 < neurons; k0 += block) {
            int k1 = Math.min(neurons, k0 + block);
            int width = k1 - k0;
            int rowBlock = Math.clamp(BLOCK_ELEMENTS / (width * vocab), 1, rows);
            try (NDScope blockScope = new NDScope()) {
                NDArray dirs = projection.valueDirections(l, k0, k1).expandDims(0);           // [1, c, V]
                for (int r0 = 0; r0 < rows; r0 += rowBlock) {
                    int r1 = Math.min(rows, r0 + rowBlock);
                    int n = r1 - r0;
                    try (NDScope scope = new NDScope()) {
                        NDArray x = a.get(new NDIndex(r0 + ":" + r1 + ", " + k0 + ":" + k1)).expandDims(2).mul(dirs)
                                .add(baseN.get(new NDIndex(r0 + ":" + r1)).expandDims(1));    // [n, c, V]
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
        return out;
    }

    /** The reference formula: {@code base + m_k·value_k} projected into the vocabulary once per neuron. */
    private float[][] neuronsOneByOne(int l, NDArray mid, NDArray post, float[] s, int[] target, float[] base) {
        int rows = s.length;
        int neurons = model.config().ffnSize();
        int d = model.config().hiddenSize();
        NDArray values = model.weights().ffnValues(l);                                          // [I, D]
        float[][] out = new float[rows][neurons];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < neurons; k++) {
                try (NDScope scope = new NDScope()) {
                    NDArray z = mid.get(r).add(values.get(k).mul(post.get(r, k))).reshape(1, d);
                    float lp = projection.logits(z, new float[] {s[r]}).logSoftmax(1).get(0, target[r]).getFloat();
                    out[r][k] = lp - base[r];
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
