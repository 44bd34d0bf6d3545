package org.neurotome.recipe;

import org.neurotome.arch.LayerRange;
import org.neurotome.arch.ModelConfig;
import org.neurotome.cna.VocabularyProjection;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.eval.ModelCaseScorer;
import org.neurotome.eval.Task;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The cost of each stage of a plan from what it does (docs/estimates.md): forward passes as
 * rows × tokens × 2·parameters FLOPs (Kaplan et al., "Scaling Laws for Neural Language Models",
 * 2020, §2.1) plus a fixed dispatch cost per layer of each batched forward; training steps as a
 * forward and a backward through frozen weights (2× a forward) plus a fixed cost per step, with
 * the activations autograd keeps, the LoRA parameters, their gradients and AdamW's two moments
 * (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", 2019, Algorithm 2); a
 * comparison's neuron scoring over the vocabulary per position; reads and writes of the
 * checkpoint's bytes. Memory is the process's resident set: the JVM and libtorch, the weights
 * (kept in float32, or the streaming buffers), the stage's own arrays and what the Java heap
 * grows by. The rates were measured on a 2-core machine; a range spans {@link Estimate.Rates#timeSpread()}
 * and
 * {@link Estimate.Rates#memorySpread()} either side of the central figures.
 */
final class CostModel {
    /** The constants, measured as docs/estimates.md describes, and this JVM's heap limit. */
    static final Estimate.Rates RATES = new Estimate.Rates(
            220L << 20,   // baseRssBytes: predict on the fixture, VmHWM
            2.5,          // startSeconds: JVM, libtorch, the tokenizer process
            200e9,        // flopsPerSecond: the 7B vocabulary projection (BENCHMARKS.md)
            5e9,          // weightBytesPerSecond: the 7B streamed forward from the page cache (BENCHMARKS.md)
            8e-9,         // elementSeconds
            1e-3,         // dispatchSeconds per layer of a batched forward
            10e-3,        // trainStepSeconds
            6e-9,         // cellSeconds: the 7B attribution by bounds (BENCHMARKS.md)
            2.0e9,        // readBytesPerSecond: widened to float32 from the page cache (BENCHMARKS.md)
            0.35e9,       // writeBytesPerSecond: the checkpoint writer (BENCHMARKS.md)
            150L << 20,   // heapBytes
            450L << 20,   // trainHeapBytes
            Runtime.getRuntime().maxMemory(),
            50,           // keptCellBytes
            2.2e-6,       // keptCellSeconds
            1.5,          // timeSpread
            1.25);        // memorySpread

    /** Float elements of one head-scan forward ({@code HeadScan.Options.DEFAULT_BATCH_ELEMENTS}). */
    private static final long HEAD_SCAN_ELEMENTS = 1L << 21;
    /** The batch bound of expert attribution and usage ({@code Attribution.Options.DEFAULT_BATCH_ELEMENTS}). */
    private static final long EXPERT_PASS_ELEMENTS = 1L << 22;
    /** Float elements of one attribution forward ({@code Attribution.Options.DEFAULT_BATCH_ELEMENTS}). */
    private static final long ATTRIBUTION_ELEMENTS = 1L << 22;
    /** Live activations of one batched forward, in multiples of its widest one. */
    private static final int LIVE_ACTIVATIONS = 2;
    /** Float activations a training step keeps per token and layer, in multiples of the hidden size (norms, q, k, v, attention output, residuals) besides the FFN's 3 × its width. */
    private static final int KEPT_PER_TOKEN_HIDDEN = 12;
    /** Tokens of one row of a fixture training corpus (a sentence of about a dozen words). */
    private static final int CORPUS_ROW_TOKENS = 12;
    /** Splits text roughly as a tokenizer's pre-tokenizer does: words, single digits, punctuation. */
    private static final Pattern PIECE = Pattern.compile("'s|[0-9]|[A-Za-z]+|[^A-Za-z0-9\\s]");
    /** Subword tokenizers split some words further: tokens per piece, at most. */
    private static final double PIECE_SPLIT = 1.3;

    private final ModelConfig c;
    private final long params;
    private final long bytes;
    private final Plan.Residency residency;
    private final List<Estimate.StageCost> stages = new ArrayList<>();

    /**
     * @param c         the model's shape
     * @param params    its parameter count
     * @param bytes     its checkpoint's bytes
     * @param residency how the weights will be held (null: no stage runs the model)
     */
    CostModel(ModelConfig c, long params, long bytes, Plan.Residency residency) {
        this.c = c;
        this.params = params;
        this.bytes = bytes;
        this.residency = residency;
    }

    /** The estimate of the stages costed so far. */
    Estimate estimate() {
        return Estimate.of(stages, RATES);
    }

    /** Starting: the JVM and libtorch, and reading the model's weights. */
    void model() {
        double seconds = RATES.startSeconds() + (residency == null ? 0 : bytes / RATES.readBytesPerSecond());
        add("model", String.format(Locale.ROOT, "start, read %s", mib(residency == null ? 0 : bytes)), seconds,
                weights(1));
    }

    /** An analysis on {@code cases} cases of about {@code tokens} tokens each; {@code perCase} keeps each case's ranking. */
    void analyse(Locate.Analysis a, int cases, double tokens, boolean perCase) {
        String id = "locate " + a.id();
        switch (a) {
            case Locate.HeadScan h -> {
                long rows = (long) cases * (1 + (long) c.numLayers() * c.numHeads());
                long perBatch = Math.max(1, HEAD_SCAN_ELEMENTS / (long) (tokens * width(tokens)));
                // an ablated row runs from its head's layer on: half the layers on average
                Forward f = forward(rows, tokens, perBatch, 0.5 + 0.5 / c.numLayers());
                add(id, f.work, f.seconds, weights(1) + activations(HEAD_SCAN_ELEMENTS) + heap(RATES.heapBytes()));
            }
            case Locate.ExpertScan es -> {
                long rows = (long) cases * (1 + (long) c.numLayers() * c.features().experts().count());
                long perBatch = Math.max(1, HEAD_SCAN_ELEMENTS / (long) (tokens * width(tokens)));
                // as the head scan: a removal runs from its expert's layer on
                Forward f = forward(rows, tokens, perBatch, 0.5 + 0.5 / c.numLayers());
                add(id, f.work, f.seconds, weights(1) + activations(HEAD_SCAN_ELEMENTS) + heap(RATES.heapBytes()));
            }
            case Locate.ExpertAttribution ea -> expertPass(id, cases, tokens);
            case Locate.ExpertUsage eu -> expertPass(id, cases, tokens);
            case Locate.Attribution at -> comparison(id, cases, tokens, 1, perCase && !at.exhaustive(), 1);
            case Locate.Cna cn -> comparison(id, cases, tokens, 2, perCase && !cn.exhaustive(),
                    cn.comparison() instanceof CnaComparison.AblatedHeads
                    || cn.comparison() instanceof CnaComparison.ContrastPrompts ? 1 : 2);
            case Locate.LoraScan ls -> {
                LoraTraining t = ls.train();
                int layers = layers(ls.scan());
                int scoreCases = new AnalysisInput.DatasetCases(ls.score().dataset(), ls.score().where(),
                        ls.score().limit()).cases().size();
                Train train = train(t, layers);
                Forward score = forward((long) scoreCases * (1 + layers), CORPUS_ROW_TOKENS / 2.0,
                        ModelCaseScorer.FORWARD_ROWS, 1);
                add(id + " (LoRAs)", train.work + "; scoring: " + score.work, train.seconds + score.seconds,
                        train.memory);
                comparison(id + " (CNA)", cases, tokens, 2, perCase && !ls.exhaustive(), 2);
            }
        }
    }

    /** Expert attribution or usage: one forward per case, with each sparse layer's expert outputs recorded. */
    private void expertPass(String id, int cases, double tokens) {
        long perBatch = Math.max(1, EXPERT_PASS_ELEMENTS / (long) (tokens * width(tokens)));
        Forward f = forward(cases, tokens, perBatch, 1);
        add(id, f.work, f.seconds, weights(1) + activations(EXPERT_PASS_ELEMENTS) + heap(RATES.heapBytes()));
    }

    /** Attribution ({@code sides} 1) or CNA (2) over {@code cases}, on {@code models} models. */
    private void comparison(String id, int cases, double tokens, int sides, boolean perCase, int models) {
        long rows = (long) cases * sides;
        Forward f = forward(rows, tokens, Math.max(1, ATTRIBUTION_ELEMENTS / (long) (tokens * width(tokens))), 1);
        long neuronVocab = (long) c.numLayers() * c.ffnSize() * c.vocabSize();
        // each layer's value vectors projected into the vocabulary once per model, every position scored against them
        double projection = 2.0 * neuronVocab * c.hiddenSize() * models;
        double seconds = f.seconds + projection / RATES.flopsPerSecond()
                + RATES.cellSeconds() * neuronVocab * cases * sides;
        long memory = weights(models) + activations(ATTRIBUTION_ELEMENTS)
                + Math.min(VocabularyProjection.DEFAULT_CACHE_BYTES, 4L * neuronVocab) * models;
        long heap = RATES.heapBytes();
        String work = f.work + String.format(Locale.ROOT, ", %,d neurons scored over the vocabulary at each position",
                (long) c.numLayers() * c.ffnSize());
        if (perCase) {
            seconds += RATES.keptCellSeconds() * neuronVocab * cases;
            heap += (long) (RATES.keptCellBytes() * neuronVocab * cases);
            work += String.format(Locale.ROOT, ", ranked per case (%d cases)", cases);
        }
        add(id, work, seconds, memory + heap(heap));
    }

    /** A LoRA trained on the model and merged into the output. */
    void recover(LoraTraining rec) {
        Train t = train(rec, 1);
        add("recover", t.work, t.seconds, t.memory);
    }

    /** Writing the output checkpoint (twice with a recover stage: before recovery, and merged). */
    void write(boolean recovers) {
        int times = recovers ? 2 : 1;
        add("output", String.format(Locale.ROOT, "write %s%s", mib(bytes), recovers ? " twice" : ""),
                times * bytes / RATES.writeBytesPerSecond(), weights(1));
    }

    /** The archive of the output: its bytes written once more. */
    void archive() {
        add("archive", "write " + mib(bytes), bytes / RATES.writeBytesPerSecond(), RATES.baseRssBytes());
    }

    /** The eval suite's cases on the candidate and the baseline (and the model before recovery). */
    void evaluate(List<Task> tasks, boolean beforeRecovery) {
        long rows = 0;
        double tokenSum = 0;
        for (Task t : tasks) {
            List<EvalCase> cases = EvalCaseFile.read(t.dataset());
            int n = t.limit() != null ? Math.min(t.limit(), cases.size()) : cases.size();
            for (int i = 0; i < n; i++) {
                tokenSum += tokens(cases.get(i).text());
            }
            rows += n;
        }
        int runs = beforeRecovery ? 4 : 2;
        double tokens = rows == 0 ? 1 : tokenSum / rows;
        Forward f = forward(rows * runs, tokens, ModelCaseScorer.FORWARD_ROWS, 1);
        long logits = 4L * ModelCaseScorer.FORWARD_ROWS * (long) Math.ceil(tokens) * c.vocabSize() * 3;
        add("eval", f.work, f.seconds, weights(2) + logits + activations(ModelCaseScorer.FORWARD_ROWS
                * (long) Math.ceil(tokens) * width(tokens)) + heap(RATES.heapBytes()));
    }

    /** Tokens of {@code text} as the estimate counts them: pieces × {@link #PIECE_SPLIT}'s midpoint, and a BOS. */
    static double tokens(String text) {
        Matcher m = PIECE.matcher(text);
        int pieces = 0;
        while (m.find()) {
            pieces++;
        }
        return 1 + pieces * (1 + PIECE_SPLIT) / 2;
    }

    private record Forward(String work, double seconds) {
    }

    private record Train(String work, double seconds, long memory) {
    }

    /** {@code rows} rows of {@code tokens} tokens, {@code perBatch} to a batched forward, through {@code depth} of the layers. */
    private Forward forward(long rows, double tokens, long perBatch, double depth) {
        long batches = (rows + perBatch - 1) / perBatch;
        double seconds = batches * pass(rows * tokens / batches, depth) + streamedPasses(1);
        return new Forward(String.format(Locale.ROOT, "%,d forward rows of ~%.0f tokens in %,d batches", rows, tokens,
                batches), seconds);
    }

    /**
     * Seconds of one batched forward of {@code tokens} tokens in all through {@code depth} of the
     * layers: its matrix products (by FLOPs, or by the weights they stream when the batch is
     * small), the element-wise work on its activations and logits, and a dispatch cost per layer.
     */
    private double pass(double tokens, double depth) {
        double products = Math.max(2.0 * params * tokens / RATES.flopsPerSecond(),
                4.0 * params / RATES.weightBytesPerSecond());
        double elements = tokens * (c.numLayers() * (double) perTokenLayer() + c.vocabSize());
        return depth * (products + elements * RATES.elementSeconds() + c.numLayers() * RATES.dispatchSeconds());
    }

    /** Activation elements one token writes in one layer: norms, q, k, v, output and residuals, the FFN's three, the attention row. */
    private long perTokenLayer() {
        return (long) KEPT_PER_TOKEN_HIDDEN * c.hiddenSize() + 3L * c.ffnSize() + c.numHeads() * 16L;
    }

    /** {@code runs} LoRA trainings of {@code t}'s steps. */
    private Train train(LoraTraining t, int runs) {
        long rowTokens = (long) t.batchSize() * CORPUS_ROW_TOKENS;
        long steps = (long) t.steps() * runs;
        double seconds = steps * (RATES.trainStepSeconds() + 2 * pass(rowTokens, 1));
        // autograd keeps every layer's activations, the logits with their softmax and gradient
        long activations = 4L * rowTokens * c.numLayers() * (KEPT_PER_TOKEN_HIDDEN * (long) c.hiddenSize()
                + 3L * c.ffnSize()) + 4L * rowTokens * c.vocabSize() * 3;
        // LoRA parameters (rank × (in + out) per target, at most every projection of a layer), gradient, two moments
        long lora = 4L * 4 * t.rank() * 2L * c.hiddenSize() * 4 * c.numLayers();
        long memory = weights(1) + activations + lora + heap(RATES.trainHeapBytes());
        return new Train(String.format(Locale.ROOT, "%,d training steps of %d rows × ~%d tokens", steps, t.batchSize(),
                CORPUS_ROW_TOKENS), seconds, memory);
    }

    /** Seconds of reading the checkpoint {@code passes} more times when the weights are streamed. */
    private double streamedPasses(int passes) {
        return residency != null && residency.streamed() ? passes * bytes / RATES.readBytesPerSecond() : 0;
    }

    /** Resident bytes of the runtime and {@code models} models' weights as they are held. */
    private long weights(int models) {
        if (residency == null) {
            return RATES.baseRssBytes();
        }
        return RATES.baseRssBytes() + (residency.streamed() ? residency.layerBytes() * 2 : residency.keptBytes())
                * (long) models;
    }

    /** What the Java heap grows by, {@code bytes} of garbage at most, never past its limit. */
    private static long heap(long bytes) {
        return Math.min(bytes, RATES.maxHeapBytes());
    }

    /** Resident bytes of one batched forward's live activations, {@code elements} floats at its widest. */
    private static long activations(long elements) {
        return 4L * elements * LIVE_ACTIVATIONS;
    }

    /** The widest activation of a row, per position: [max(D, 2I, H·T, V)]. */
    private long width(double tokens) {
        return Math.max(Math.max(c.hiddenSize(), 2L * c.ffnSize()), Math.max((long) (c.numHeads() * tokens),
                c.vocabSize()));
    }

    private int layers(LayerRange scan) {
        LayerRange r = scan == null ? LayerRange.all(c) : scan.check(c);
        return r.last() - r.first() + 1;
    }

    private void add(String stage, String work, double seconds, long memory) {
        stages.add(new Estimate.StageCost(stage, work, Estimate.Range.around(seconds, RATES.timeSpread()),
                Estimate.Range.around(memory, RATES.memorySpread())));
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
    }
}
