package org.neurotome.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.Features;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.NormKind;
import org.neurotome.arch.RopeScaling;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The functional forward pass of a decoder-only transformer over {@link Weights}, for every
 * family of {@code arch/}: embeddings (+ learned positions, × √hidden where the family scales
 * them), then per layer {@code x + attn(norm1(x))} and {@code + ffn(norm2(·))} (or the
 * parallel {@code x + attn(ln1(x)) + ffn(ln(x))} of GPT-J and GPT-NeoX), with post-norms of
 * the attention and FFN outputs where the family has them; final norm, unembedding and
 * final soft-cap. Attention is causal softmax (within a sliding window on the layers the
 * family windows) over scores scaled by 1/sqrt(hd) (Gemma 2: its query_pre_attn_scalar) and
 * soft-capped where the family caps them, with grouped-query heads, q/k norms per head or over
 * the whole projection, OLMoE's q/k/v clipping, and rotary positions (partial, scaled; Gemma 3's
 * local layers by their own base) where the family has them. It mirrors transformers'
 * modeling_gpt2.py, modeling_gptj.py, modeling_gpt_neox.py, modeling_llama.py,
 * modeling_mistral.py, modeling_qwen2.py, modeling_qwen3.py, modeling_gemma2.py,
 * modeling_phi3.py, modeling_olmo2.py and modeling_gemma3.py in float32, and records
 * TransformerLens-style taps ({@link Tap}) and applies per-row head and neuron scales
 * ({@link HeadScale}, {@link NeuronScale}) on request. Temporaries live in one
 * {@code NDScope} per layer, so memory stays flat over any number of calls. Each layer's
 * weights are leased from {@link Weights} for the span of the layer (widened then, when they
 * are streamed); many requests can share one lease per layer ({@link #forwardEach}), and a
 * {@link KvCache} lets generation run one new token at a time.
 *
 * <p>It is one class of about 850 lines on purpose: the forward pass is one sequence of steps
 * whose family variants are layout facts read from the table, not subclasses, and every step
 * shares the layer's lease, its {@code NDScope} and the taps requested. Split per family it
 * would repeat the layer loop (as transformers' modeling files do); split per step it would
 * pass those three through every call. What needs little of them stands apart: a batch's
 * shapes and masks ({@link Batch}) and a sparse layer's routing and experts ({@link Routing}).
 */
public final class Transformer implements AutoCloseable {
    private final Weights w;
    private final ModelConfig c;
    private final Architecture arch;
    private final NDManager constants;
    private final NDArray half;
    private final NDArray one;
    private final NDArray geluCubic;
    private final NDArray geluScale;
    private final NDArray eps;
    private final NDArray queryScale;
    private final NDArray embedScale;
    private final NDArray attnSoftcap;
    private final NDArray finalSoftcap;
    private final Rotary rotary;
    private final Rotary localRotary;
    private final float clipQkv;
    private final LayerTransform transform;
    private PassProgress progress = PassProgress.NONE;

    /**
     * Changes a layer's weights for the span of one pass, after they are leased: a LoRA
     * being trained adds its deltas here, under autograd (a LoRA's {@code LoraParameters}).
     */
    @FunctionalInterface
    public interface LayerTransform {
        LayerWeights apply(int layer, LayerWeights weights);
    }

    public Transformer(Weights weights) {
        this(weights, (layer, lw) -> lw);
    }

    /** The forward over {@code weights}, each layer's weights passed through {@code transform} as it runs. */
    public Transformer(Weights weights, LayerTransform transform) {
        this.transform = transform;
        this.w = weights;
        this.c = weights.config();
        this.arch = weights.architecture();
        this.constants = weights.manager().newSubManager();
        this.half = scalar(0.5);
        this.one = scalar(1.0);
        this.geluCubic = scalar(0.044715);
        this.geluScale = scalar(Math.sqrt(2.0 / Math.PI));
        this.eps = scalar(c.normEps());
        Features f = c.features();
        this.queryScale = scalar(1.0 / Math.sqrt(f.queryPreAttnScalar()));
        // Gemma 2 multiplies by √hidden rounded to the compute dtype (float32 here)
        this.embedScale = arch.embedScaled() ? scalar(Math.sqrt(c.hiddenSize())) : null;
        this.attnSoftcap = f.attnSoftcap() > 0 ? scalar(f.attnSoftcap()) : null;
        this.finalSoftcap = f.finalSoftcap() > 0 ? scalar(f.finalSoftcap()) : null;
        this.rotary = c.rotaryDim() > 0
                ? new Rotary(c.rotaryDim(), c.ropeTheta(), f.ropeScaling(), c.maxPositions(), constants) : null;
        // Gemma 3: local layers rotate by their own base, unscaled
        this.localRotary = c.rotaryDim() > 0 && f.ropeLocalTheta() > 0
                ? new Rotary(c.rotaryDim(), f.ropeLocalTheta(), RopeScaling.NONE, c.maxPositions(), constants) : null;
        this.clipQkv = (float) f.clipQkv();
    }

    private NDArray scalar(double v) {
        NDArray a = constants.full(new Shape(), (float) v);
        NDScope.unregister(a);
        return a;
    }

    public Weights weights() {
        return w;
    }

    public ModelConfig config() {
        return c;
    }

    /** Told after each layer of a streamed pass; {@link PassProgress#NONE} by default. */
    public void setProgress(PassProgress progress) {
        this.progress = progress;
    }

    /** Runs {@code request}; the result owns its arrays and must be closed. */
    public ForwardResult forward(ForwardRequest request) {
        Run run = start(request);
        try {
            runLayers(List.of(run));
            return run.finish();
        } catch (RuntimeException | Error e) {
            run.close();
            throw e;
        }
    }

    /**
     * Runs every request and hands each result, in order, to {@code consumer}, closing it
     * afterwards. The results equal {@link #forward}'s one by one. When the weights are
     * streamed the requests run <em>layer-major</em> — every request through layer l before
     * layer l + 1 is widened — in groups whose activations fit the memory budget, so each layer
     * is read once per group rather than once per request.
     */
    public void forwardEach(List<ForwardRequest> requests, ResultConsumer consumer) {
        WorkingMemory memory = w.memory();
        if (!memory.layerMajor()) {
            for (int i = 0; i < requests.size(); i++) {
                try (ForwardResult r = forward(requests.get(i))) {
                    consumer.accept(i, r);
                }
            }
            return;
        }
        long room = memory.passGroupBytes();
        int from = 0;
        while (from < requests.size()) {
            int to = from;
            long held = 0;
            long widest = 0;
            while (to < requests.size()) {
                Activations a = activations(requests.get(to));
                if (to > from && held + a.held() + Math.max(widest, a.peak()) > room) {
                    break;
                }
                held += a.held();
                widest = Math.max(widest, a.peak());
                to++;
            }
            layerMajor(requests.subList(from, to), from, consumer);
            from = to;
        }
    }

    /** Receives the i-th result of {@link #forwardEach}; the result is closed after the call. */
    @FunctionalInterface
    public interface ResultConsumer {
        void accept(int index, ForwardResult result);
    }

    /** Runs {@code group} layer-major: one lease per layer for all of them; results in order. */
    private void layerMajor(List<ForwardRequest> group, int offset, ResultConsumer consumer) {
        List<Run> runs = new ArrayList<>();
        try {
            for (ForwardRequest r : group) {
                runs.add(start(r));
            }
            runLayers(runs);
            for (int i = 0; i < runs.size(); i++) {
                Run run = runs.set(i, null);
                try (ForwardResult r = run.finish()) {
                    consumer.accept(offset + i, r);
                }
            }
        } finally {
            runs.stream().filter(java.util.Objects::nonNull).forEach(Run::close);
        }
    }

    /**
     * Takes every run through the layers from the first one a run starts at, leasing each
     * layer once for all of them (progress is reported for streamed weights).
     */
    private void runLayers(List<Run> runs) {
        int first = runs.stream().mapToInt(r -> r.req.startLayer()).min().orElse(c.numLayers());
        for (int l = first; l < c.numLayers(); l++) {
            try (Weights.Lease<LayerWeights> lease = w.layer(l)) {
                LayerWeights lw = transform.apply(l, lease.get());
                int layer = l;
                List<Run> active = runs.stream().filter(r -> r.req.startLayer() <= layer).toList();
                if (lw.experts() != null && lw.experts().streamed()) {
                    // a streamed sparse layer: every run attends and routes, then each expert chosen
                    // anywhere is read once, used by every run that chose it, and freed before the next
                    Set<Integer> chosen = new java.util.TreeSet<>();
                    for (Run run : active) {
                        chosen.addAll(run.attend(l, lw));
                    }
                    lw.experts().visit(chosen, (ew, e) -> active.forEach(run -> run.addExpert(e, ew)));
                    for (Run run : active) {
                        run.feedForward(l, lw);
                    }
                } else {
                    for (Run run : active) {
                        run.step(l, lw);
                    }
                }
            }
            if (w.streaming()) {
                progress.layers(l + 1, c.numLayers());
            }
        }
    }

    /**
     * Rough upper bounds, in bytes, on what a request holds between layers (its residual
     * stream and its taps) and, while it is the one running, at its widest (a layer's largest
     * activations, or its logits at the end): requests run side by side hold the first each and
     * the second one at a time.
     */
    record Activations(long held, long peak) {
    }

    Activations activations(ForwardRequest r) {
        long rows = r.batchSize();
        long seq = r.ids() != null ? r.ids().stream().mapToInt(a -> a.length).max().orElse(1)
                : r.residual().getShape().get(1);
        long keys = seq + (r.cache() == null ? 0 : r.cache().length());
        long d = c.hiddenSize();
        long widest = Math.max(Math.max(3 * d, 3L * c.maxFfnWidth()), (long) c.numHeads() * (keys + 2L * c.headDim()));
        long tapWidth = (long) Math.max(d, (long) c.numHeads() * d) + c.maxFfnWidth();
        long taps = r.taps().size() * (r.tapAllPositions() ? seq : 1) * tapWidth;
        long logits = (r.allLogits() ? seq : 1) * c.vocabSize();
        return new Activations(4 * rows * (seq * d + taps), 4 * rows * Math.max(seq * (d + widest), 2 * logits));
    }

    /** Checks {@code request} and prepares its embeddings (or its residual input). */
    private Run start(ForwardRequest request) {
        Batch batch = Batch.of(request, c, w.posEmbed() != null);
        checkInterventions(request, batch);
        for (String t : request.taps()) {
            int l = Tap.layerOf(t, c);
            if (l >= 0 && l < request.startLayer()) {
                throw NeurotomeException.badInput("tap '" + t + "' lies before the start layer " + request.startLayer());
            }
            if (l >= 0 && Tap.routing(t) && !c.sparseLayer(l)) {
                throw NeurotomeException.badInput("tap '" + t + "': layer " + l + " has a dense FFN and no router");
            }
        }
        NDManager out = w.manager().newSubManager();
        try {
            return new Run(out, request, batch);
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    private void checkInterventions(ForwardRequest r, Batch b) {
        for (HeadScale h : r.headScales()) {
            check(h.row(), b.rows(), "head scale " + h, "row");
            check(h.layer() - r.startLayer(), c.numLayers() - r.startLayer(), "head scale " + h, "layer");
            check(h.head(), c.numHeads(), "head scale " + h, "head");
        }
        for (NeuronScale n : r.neuronScales()) {
            check(n.row(), b.rows(), "neuron scale " + n, "row");
            check(n.layer() - r.startLayer(), c.numLayers() - r.startLayer(), "neuron scale " + n, "layer");
            check(n.neuron(), c.ffnWidth(n.layer()), "neuron scale " + n, "neuron");
        }
        for (ExpertRemoval e : r.expertRemovals()) {
            check(e.row(), b.rows(), "expert removal " + e, "row");
            check(e.layer() - r.startLayer(), c.numLayers() - r.startLayer(), "expert removal " + e, "layer");
            if (!c.sparseLayer(e.layer())) {
                throw NeurotomeException.badInput("expert removal " + e + ": layer " + e.layer()
                        + " has a dense FFN and no experts");
            }
            check(e.expert(), c.features().experts().count(), "expert removal " + e, "expert");
        }
    }

    private static void check(int v, int n, String what, String field) {
        if (v < 0 || v >= n) {
            throw NeurotomeException.badInput(what + ": " + field + " out of range");
        }
    }

    /** Per-call state shared by the layers. */
    private final class Pass implements Routing.Context {
        final ForwardRequest req;
        final Batch b;
        final NDManager out;
        final NDArray lastIndex;
        final NDArray causal;
        final NDArray windowed;
        final NDArray[] angles;
        final NDArray[] localAngles;
        final Map<Integer, float[]> headScales = new HashMap<>();
        final Map<Integer, float[]> neuronScales = new HashMap<>();
        final Map<Integer, float[]> routerMasks = new HashMap<>();
        final Map<String, NDArray> taps = new LinkedHashMap<>();
        final List<NDArray> layerKeep = new ArrayList<>();

        Pass(ForwardRequest req, Batch b, NDManager out, NDArray positionIds) {
            this.req = req;
            this.b = b;
            this.out = out;
            long[] last = new long[b.rows()];
            for (int r = 0; r < b.rows(); r++) {
                last[r] = (long) r * b.seq() + b.lengths()[r] - 1;
            }
            this.lastIndex = owned(out.create(last));
            int keys = b.offset() + b.seq();
            this.causal = owned(out.create(b.causalMask(0), new Shape(b.seq(), keys)));
            this.windowed = c.slidingWindow() == 0 ? causal
                    : owned(out.create(b.causalMask(c.slidingWindow()), new Shape(b.seq(), keys)));
            this.angles = rotary == null ? null : rotary.angles(positionIds, b.offset(), b.lengths());
            this.localAngles = localRotary == null ? null : localRotary.angles(positionIds, b.offset(), b.lengths());
            for (HeadScale h : req.headScales()) {
                ones(headScales, h.layer(), c.numHeads())[h.row() * c.numHeads() + h.head()] *= h.factor();
            }
            for (NeuronScale n : req.neuronScales()) {
                int width = c.ffnWidth(n.layer());
                ones(neuronScales, n.layer(), width)[n.row() * width + n.neuron()] *= n.factor();
            }
            int experts = c.features().experts().count();
            for (ExpertRemoval e : req.expertRemovals()) {
                routerMasks.computeIfAbsent(e.layer(), k -> new float[b.rows() * experts])[e.row() * experts
                        + e.expert()] = Float.NEGATIVE_INFINITY;
            }
        }

        /** Router logits {@code logits} [B, S, E] of layer {@code layer} with the removed experts' at −∞. */
        @Override
        public NDArray routerLogits(int layer, NDArray logits) {
            float[] f = routerMasks.get(layer);
            return f == null ? logits
                    : logits.add(owned(out.create(f, new Shape(b.rows(), 1, c.features().experts().count()))));
        }

        /** The attention mask of layer {@code layer} [S, offset + S]: windowed where the family windows it. */
        NDArray mask(int layer) {
            return c.localLayer(layer) ? windowed : causal;
        }

        /** The rotary angles of layer {@code layer}: the local ones on Gemma 3's local layers. */
        NDArray[] angles(int layer) {
            return localAngles != null && c.localLayer(layer) ? localAngles : angles;
        }

        private float[] ones(Map<Integer, float[]> byLayer, int layer, int width) {
            return byLayer.computeIfAbsent(layer, k -> {
                float[] f = new float[b.rows() * width];
                Arrays.fill(f, 1f);
                return f;
            });
        }

        /** Layer {@code layer}'s head factors [B, 1, H, 1], or null when none applies. */
        NDArray headScale(int layer) {
            float[] f = headScales.get(layer);
            return f == null ? null : owned(out.create(f, new Shape(b.rows(), 1, c.numHeads(), 1)));
        }

        /** Layer {@code layer}'s neuron factors [B, 1, I], or null when none applies. */
        @Override
        public NDArray neuronScale(int layer) {
            float[] f = neuronScales.get(layer);
            return f == null ? null : owned(out.create(f, new Shape(b.rows(), 1, c.ffnWidth(layer))));
        }

        @Override
        public boolean wants(String tap) {
            return req.taps().contains(tap);
        }

        /** Records {@code value} [B, S, …] under {@code tap}, at the last position unless all are asked. */
        @Override
        public void record(String tap, NDArray value) {
            if (!wants(tap)) {
                return;
            }
            NDArray v = req.tapAllPositions() ? value : last(value);
            if (v == req.residual()) {
                v = v.duplicate();
            }
            taps.put(tap, v);
            layerKeep.add(v);
        }

        /** Each row's last position of {@code x} [B, S, …] → [B, …]. */
        NDArray last(NDArray x) {
            Shape s = x.getShape();
            long[] flat = new long[s.dimension() - 1];
            flat[0] = s.get(0) * s.get(1);
            for (int i = 2; i < s.dimension(); i++) {
                flat[i - 1] = s.get(i);
            }
            return x.reshape(new Shape(flat)).get(new NDIndex("{}", lastIndex));
        }
    }

    /**
     * A copy that libtorch owns: arrays created from Java memory alias a direct buffer that
     * dies with the array, which autograd may still read after this call returns.
     */
    static NDArray owned(NDArray javaBacked) {
        NDArray copy = javaBacked.duplicate();
        javaBacked.close();
        return copy;
    }

    /**
     * One request on its way through the layers: its per-call state, the residual stream
     * between layers and the recorded taps, all owned by the result's manager. Outside
     * training each step's temporaries live in a scope of their own, and a residual no longer
     * needed is freed at once, so memory does not grow with depth or with the number of
     * requests run side by side.
     */
    private final class Run implements AutoCloseable {
        final ForwardRequest req;
        final Batch b;
        final NDManager out;
        final Pass p;
        NDArray x;

        Run(NDManager out, ForwardRequest req, Batch b) {
            this.req = req;
            this.b = b;
            this.out = out;
            try (NDScope scope = req.training() ? null : new NDScope()) {
                long[] pos = new long[b.rows() * b.seq()];
                for (int i = 0; i < pos.length; i++) {
                    pos[i] = b.offset() + i % b.seq();
                }
                NDArray positionIds = owned(out.create(pos, new Shape(b.rows(), b.seq())));
                p = new Pass(req, b, out, positionIds);
                if (req.ids() != null) {
                    long[] ids = new long[b.rows() * b.seq()];
                    for (int r = 0; r < b.rows(); r++) {
                        int[] row = req.ids().get(r);
                        for (int i = 0; i < row.length; i++) {
                            ids[r * b.seq() + i] = row[i];
                        }
                    }
                    x = w.embed(owned(out.create(ids, new Shape(b.rows(), b.seq()))));
                    if (embedScale != null) {
                        x = x.mul(embedScale);
                    }
                    if (w.posEmbed() != null) {
                        x = x.add(positionIds.getNDArrayInternal().embedding(positionIds, w.posEmbed(),
                                SparseFormat.DENSE).singletonOrThrow());
                    }
                } else {
                    x = req.residual();
                }
                keep(p.lastIndex, p.causal, p.windowed);
                if (p.angles != null) {
                    keep(p.angles);
                }
                if (p.localAngles != null) {
                    keep(p.localAngles);
                }
                if (x != req.residual()) {
                    keep(x);
                }
            }
        }

        /** Outside training: takes arrays out of the closing scope and gives them to the result's manager. */
        private void keep(NDArray... arrays) {
            if (!req.training()) {
                for (NDArray a : arrays) {
                    NDScope.unregister(a);
                    a.attach(out);
                }
            }
        }

        /** Runs layer {@code l} with its weights {@code lw}. */
        void step(int l, LayerWeights lw) {
            NDArray prev = x;
            p.layerKeep.clear();
            try (NDScope scope = req.training() ? null : new NDScope()) {
                x = layer(l, prev, p, lw);
                keep(x);
                p.layerKeep.forEach(this::keep);
            }
            release(prev);
        }

        /** What {@link #attend} left for {@link #feedForward}. */
        private Attended attended;

        /**
         * The first half of layer {@code l} (a streamed sparse one): attention, then the router on
         * the FFN's input; the experts it selects at any position of this run.
         */
        Set<Integer> attend(int l, LayerWeights lw) {
            p.layerKeep.clear();
            try (NDScope scope = new NDScope()) {
                Attended a = attentionHalf(l, x, p, lw);
                Routing r = route(l, a.ffnIn(), lw, p);
                attended = new Attended(a.attnOut(), a.mid(), a.ffnIn(), r);
                keep(a.attnOut(), a.ffnIn());
                if (a.mid() != null) {
                    keep(a.mid());
                }
                r.held().forEach(this::keep);
                p.layerKeep.forEach(this::keep);
                return r.chosen();
            }
        }

        /** Adds routed expert {@code e}'s output to this run's layer after {@link #attend}, if the run chose it. */
        void addExpert(int e, ExpertWeights ew) {
            Routing r = attended.routing();
            NDArray before = r.sum();
            try (NDScope scope = new NDScope()) {
                if (!r.add(ew, e)) {
                    return;
                }
                r.held().forEach(this::keep);
            }
            if (before != null && !r.holds(before)) {
                before.close();
            }
        }

        /** The second half of layer {@code l} after {@link #attend}: the FFN and the residual. */
        void feedForward(int l, LayerWeights lw) {
            NDArray prev = x;
            Attended a = attended;
            attended = null;
            List<NDArray> held = a.routing().held();
            p.layerKeep.clear();
            try (NDScope scope = new NDScope()) {
                x = ffnHalf(l, prev, a, p, lw);
                keep(x);
                p.layerKeep.forEach(this::keep);
            }
            held.forEach(this::release);
            release(a.attnOut());
            release(a.ffnIn());
            if (a.mid() != null && a.mid() != a.ffnIn()) {
                release(a.mid());
            }
            release(prev);
        }

        /** Closes a residual that is neither the caller's input nor a recorded tap. */
        private void release(NDArray a) {
            if (!req.training() && a != req.residual() && p.taps.values().stream().noneMatch(t -> t == a)) {
                a.close();
            }
        }

        /** The final norm and the unembedding: the result, which now owns every array of the run. */
        ForwardResult finish() {
            NDArray logits;
            try (NDScope scope = req.training() ? null : new NDScope()) {
                NDArray h = req.allLogits() ? x : p.last(x);
                if (p.wants(Tap.FINAL_SCALE)) {
                    NDArray s = normScale(req.tapAllPositions() ? x : p.last(x)).squeeze(-1);
                    p.taps.put(Tap.FINAL_SCALE, s);
                }
                NDArray normed = norm(h, w.finalNormWeight(), w.finalNormBias());
                logits = softcap(w.unembed(normed, true), finalSoftcap);
                keep(logits);
                p.taps.values().forEach(this::keep);
                if (req.training()) {
                    logits.attach(out);
                    p.taps.values().forEach(t -> t.attach(out));
                }
            }
            release(x);
            if (req.cache() != null) {
                req.cache().advance(b.seq());
            }
            if (!req.training()) {
                NDScope.register(logits);
                p.taps.values().forEach(NDScope::register);
            }
            return new ForwardResult(out, logits, p.taps, b.lengths());
        }

        @Override
        public void close() {
            out.close();
        }
    }

    /** One block over the residual stream {@code x}. */
    private NDArray layer(int l, NDArray x, Pass p, LayerWeights lw) {
        return ffnHalf(l, x, attentionHalf(l, x, p, lw), p, lw);
    }

    /**
     * What a block's attention leaves for its FFN: the attention output, the residual after it
     * (null for a parallel block not asked for it), the FFN's input and, for a streamed sparse
     * layer whose experts are handed over one at a time, its routing so far (else null).
     */
    private record Attended(NDArray attnOut, NDArray mid, NDArray ffnIn, Routing routing) {
    }

    /** The first half of a block: its attention, and the input of its FFN. */
    private Attended attentionHalf(int l, NDArray x, Pass p, LayerWeights lw) {
        p.record(Tap.residPre(l), x);
        // OLMo 2 norms only the block outputs: attention reads x itself
        NDArray h = lw.ln1() == null ? x : norm(x, lw.ln1(), lw.ln1Bias());
        NDArray attnOut = attention(l, h, lw, p);
        p.record(Tap.attnOut(l), attnOut);
        boolean parallel = c.features().parallelResidual();
        NDArray mid = parallel && !p.wants(Tap.residMid(l)) ? null : x.add(attnOut);
        if (mid != null) {
            p.record(Tap.residMid(l), mid);
        }
        // parallel: the FFN reads x through its own norm (GPT-NeoX) or the attention's (GPT-J)
        NDArray ffnIn = !parallel ? (lw.ln2() == null ? mid : norm(mid, lw.ln2(), lw.ln2Bias()))
                : lw.ln2() == null ? h : norm(x, lw.ln2(), lw.ln2Bias());
        return new Attended(attnOut, mid, ffnIn, null);
    }

    /** The second half of a block: its FFN on {@code a}'s input, and the block's output. */
    private NDArray ffnHalf(int l, NDArray x, Attended a, Pass p, LayerWeights lw) {
        NDArray mlpOut = mlp(l, a, lw, p);
        p.record(Tap.mlpOut(l), mlpOut);
        NDArray next = c.features().parallelResidual() ? x.add(a.attnOut()).add(mlpOut) : a.mid().add(mlpOut);
        p.record(Tap.residPost(l), next);
        return next;
    }

    private NDArray attention(int l, NDArray h, LayerWeights lw, Pass p) {
        int bs = p.b.rows();
        int s = p.b.seq();
        int nh = c.numHeads();
        int kvh = c.numKvHeads();
        int g = c.groupSize();
        int hd = c.headDim();
        NDArray qkv = Linear.linear(h, lw.qkv(), lw.qkvBias()).singletonOrThrow();   // [B, S, (H + 2KV)·hd]
        NDList parts = qkv.split(new long[] {(long) nh * hd, (long) (nh + kvh) * hd}, 2);
        NDArray q = parts.get(0);                                                      // [B, S, H·hd]
        NDArray k = parts.get(1);                                                      // [B, S, KV·hd]
        NDArray v = parts.get(2);
        if (lw.qNorm() != null && arch.qkNormWhole()) {
            // OLMo 2, OLMoE: RMSNorm over the whole q and k projections, before the head split
            q = rmsNorm(q, lw.qNorm());
            k = rmsNorm(k, lw.kNorm());
        }
        if (clipQkv > 0) {
            // OLMoE's clip_qkv, after the norms
            q = q.clip(-clipQkv, clipQkv);
            k = k.clip(-clipQkv, clipQkv);
            v = v.clip(-clipQkv, clipQkv);
        }
        q = q.reshape(bs, s, nh, hd);
        k = k.reshape(bs, s, kvh, hd);
        v = v.reshape(bs, s, kvh, hd);
        if (lw.qNorm() != null && !arch.qkNormWhole()) {
            // Qwen3, Gemma 3: RMSNorm over each head's hd entries, before rotary
            q = rmsNorm(q, lw.qNorm());
            k = rmsNorm(k, lw.kNorm());
        }
        if (rotary != null) {
            q = rotary.apply(q, p.angles(l));
            k = rotary.apply(k, p.angles(l));
        }
        if (p.req.cache() != null) {
            NDArray[] kv = p.req.cache().append(l, k, v);                              // [B, offset + S, KV, hd]
            k = kv[0];
            v = kv[1];
        }
        long sk = k.getShape().get(1);
        q = q.mul(queryScale);
        // group the query heads that share a kv head: [B, KV, G·S, hd]
        NDArray qg = q.reshape(bs, s, kvh, g, hd).transpose(0, 2, 3, 1, 4).reshape(bs, kvh, (long) g * s, hd);
        NDArray scores = softcap(qg.matMul(k.transpose(0, 2, 3, 1))                   // [B, KV, G·S, Sk]
                .reshape(bs, nh, s, sk), attnSoftcap).add(p.mask(l));                 // [B, H, S, Sk]
        NDArray pattern = scores.softmax(-1);
        NDArray z = pattern.reshape(bs, kvh, (long) g * s, sk).matMul(v.transpose(0, 2, 1, 3))  // [B, KV, G·S, hd]
                .reshape(bs, nh, s, hd).transpose(0, 2, 1, 3);                        // [B, S, H, hd]
        NDArray scale = p.headScale(l);
        if (scale != null) {
            z = z.mul(scale);
        }
        if (p.wants(Tap.attnPattern(l))) {
            NDArray pat = p.req.tapAllPositions() ? pattern : p.last(pattern.transpose(0, 2, 1, 3));
            p.taps.put(Tap.attnPattern(l), pat);
            p.layerKeep.add(pat);
        }
        p.record(Tap.attnZ(l), z);
        NDArray out = z.reshape(bs, s, (long) nh * hd).matMul(lw.o());               // [B, S, D]
        if (lw.oBias() != null) {
            out = out.add(lw.oBias());
        }
        NDArray gain = null;                                                           // [B, S, D]
        if (lw.ln1Post() != null) {
            // Gemma 2: the residual receives post_attention_layernorm(out)
            NDArray rms = rmsScale(out);                                               // [B, S, 1]
            p.record(Tap.ln1PostScale(l), rms.squeeze(-1));
            gain = normWeight(lw.ln1Post()).div(rms);
            out = out.mul(gain);
        }
        if (p.wants(Tap.attnResult(l))) {
            NDArray zs = p.req.tapAllPositions() ? z.reshape(-1, nh, hd) : p.last(z);  // [N, H, hd]
            NDArray result;
            try (NDArray perHead = lw.o().reshape(nh, hd, c.hiddenSize())) {            // [H, hd, D]
                result = zs.transpose(1, 0, 2).matMul(perHead).transpose(1, 0, 2);     // [N, H, D]
            }
            if (gain != null) {
                NDArray gs = p.req.tapAllPositions() ? gain.reshape(-1, c.hiddenSize()) : p.last(gain);  // [N, D]
                result = result.mul(gs.expandDims(1));
            }
            if (p.req.tapAllPositions()) {
                result = result.reshape(bs, s, nh, c.hiddenSize());
            }
            p.taps.put(Tap.attnResult(l), result);
            p.layerKeep.add(result);
        }
        return out;
    }

    /** A block's FFN on {@code a}'s input: dense, or a sparse layer's experts. */
    private NDArray mlp(int l, Attended a, LayerWeights lw, Pass p) {
        NDArray out;
        if (lw.router() != null) {
            Routing r = a.routing();
            if (r == null) {
                Routing fresh = route(l, a.ffnIn(), lw, p);
                lw.experts().visit(fresh.chosen(), fresh::add);
                r = fresh;
            }
            out = r.finish(lw);
        } else {
            NDArray x = a.ffnIn();
            NDArray h = Linear.linear(x, lw.ffnIn(), lw.ffnInBias()).singletonOrThrow();   // [B, S, I] or [B, S, 2I]
            NDArray m;
            if (arch.gatedMlp()) {
                NDList gu = h.split(2, 2);
                m = activation(gu.get(0)).mul(gu.get(1));
            } else {
                m = activation(h);
            }
            NDArray scale = p.neuronScale(l);
            if (scale != null) {
                m = m.mul(scale);
            }
            p.record(Tap.mlpPost(l), m);
            out = m.matMul(lw.ffnOut());                                               // [B, S, D]
            if (lw.ffnOutBias() != null) {
                out = out.add(lw.ffnOutBias());
            }
        }
        if (lw.ln2Post() != null) {
            // Gemma 2: the residual receives post_feedforward_layernorm(out)
            NDArray rms = rmsScale(out);                                               // [B, S, 1]
            p.record(Tap.ln2PostScale(l), rms.squeeze(-1));
            out = out.div(rms).mul(normWeight(lw.ln2Post()));
        }
        return out;
    }

    /** Routes {@code x}, layer {@code l}'s FFN input, in pass {@code p} ({@link Routing}). */
    private Routing route(int l, NDArray x, LayerWeights lw, Pass p) {
        return new Routing(l, x, lw, c.features().experts(), this::activation, p);
    }

    private NDArray activation(NDArray x) {
        return switch (c.activation()) {
            case SILU -> x.mul(ai.djl.nn.Activation.sigmoid(x));
            case GELU -> ai.djl.nn.Activation.gelu(x);
            case RELU -> ai.djl.nn.Activation.relu(x);
            case GELU_NEW -> {
                NDArray inner = x.add(x.mul(x).mul(x).mul(geluCubic)).mul(geluScale);
                yield x.mul(half).mul(inner.tanh().add(one));
            }
        };
    }

    private NDArray norm(NDArray x, NDArray weight, NDArray bias) {
        if (arch.norm() == NormKind.LAYERNORM) {
            return LayerNorm.layerNorm(x, new Shape(c.hiddenSize()), weight, bias, (float) c.normEps())
                    .singletonOrThrow();
        }
        return rmsNorm(x, weight);
    }

    /** RMSNorm over the last axis: {@code x / sqrt(mean(x²) + eps) ⊙ w} (or {@code ⊙ (1 + w)}). */
    private NDArray rmsNorm(NDArray x, NDArray weight) {
        return x.div(rmsScale(x)).mul(normWeight(weight));
    }

    /** sqrt(mean(x²) + eps) over the last axis, kept. */
    private NDArray rmsScale(NDArray x) {
        return x.square().mean(new int[] {-1}, true).add(eps).sqrt();
    }

    /** The factor a norm applies: its weight w, or {@code 1 + w} where the family says so (Gemma 2). */
    private NDArray normWeight(NDArray weight) {
        return arch.normPlusOne() ? weight.add(one) : weight;
    }

    /** {@code cap · tanh(x / cap)}, or x when {@code cap} is null (Gemma 2's soft-capping). */
    private static NDArray softcap(NDArray x, NDArray cap) {
        return cap == null ? x : x.div(cap).tanh().mul(cap);
    }

    /** sqrt(var + eps) over the last axis, keeping it: the divisor of the final norm. */
    private NDArray normScale(NDArray x) {
        NDArray centred = arch.norm() == NormKind.LAYERNORM ? x.sub(x.mean(new int[] {-1}, true)) : x;
        return centred.square().mean(new int[] {-1}, true).add(eps).sqrt();
    }

    @Override
    public void close() {
        constants.close();
    }
}
