package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Linear;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.NormKind;
import org.neurotome.arch.Role;
import org.neurotome.arch.RotaryStyle;
import org.neurotome.arch.WeightLayout;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * A model's weights as the forward pass sees them: float32 NDArrays in one orientation (see
 * {@link LayerWeights}), read from a checkpoint of any supported family through a
 * {@link TensorSource}. They are a view: a layer is reached through a {@link Lease}, which is
 * either the layer kept in memory since loading (<em>resident</em>) or the layer widened from
 * the mapped file now and freed when the lease closes (<em>streaming</em>). A
 * {@link MemoryBudget} chooses: the weights are resident when their float32 size fits it,
 * streamed otherwise, and no caller needs to know which. Embedding rows are always gathered
 * from the source (the table is never widened whole); the unembedding is kept when it fits
 * and read in vocabulary blocks otherwise. Widened tensors live in native memory that
 * libtorch reads directly: matrices stored transposed to the runtime orientation become
 * transposed views, never copies.
 *
 * <p>Weights built for training ({@link #fromTensors}, {@link #initialize}) are resident,
 * contiguous and hold the whole embedding table as a parameter, and can be written back in
 * the family's Hugging Face layout ({@link #toOutputTensors}).
 */
public final class Weights implements AutoCloseable {
    /** The unembedding is projected in blocks of at most this many bytes (or a layer's, if smaller). */
    private static final long UNEMBED_BLOCK_BYTES = 64L << 20;

    private final ModelConfig config;
    private final Architecture arch;
    private final NDManager manager;
    private final Arena arena;
    private final TensorSource source;
    private final boolean streaming;
    private final MemoryBudget budget;
    private final MemoryBudget.Reservation reservation;
    private final NDArray embedTable;
    private final NDArray posEmbed;
    private final NDArray lnF;
    private final NDArray lnFBias;
    private final List<NDArray> unembedBlocks;
    private final long unembedBlockRows;
    private final NDArray unembedBias;
    private final List<LayerWeights> layers;
    private final LayerBuffers buffers;
    private final ExecutorService prefetcher;
    private Prefetch pending;
    /** The norm weights (gains) among the roles. */
    private static final java.util.Set<Role> NORMS = java.util.EnumSet.of(Role.LN1, Role.LN2, Role.LN_F, Role.Q_NORM,
            Role.K_NORM, Role.LN1_POST, Role.LN2_POST);

    private Weights(Builder b) {
        this.config = b.config;
        this.arch = b.arch;
        this.manager = b.manager;
        this.arena = b.arena;
        this.source = b.source;
        this.streaming = b.streaming;
        this.budget = b.budget;
        this.reservation = b.reservation;
        this.embedTable = b.embedTable;
        this.posEmbed = b.posEmbed;
        this.lnF = b.lnF;
        this.lnFBias = b.lnFBias;
        this.unembedBlocks = b.unembedBlocks;
        this.unembedBlockRows = b.unembedBlockRows;
        this.unembedBias = b.unembedBias;
        this.layers = b.layers;
        this.buffers = b.buffers;
        this.prefetcher = b.buffers != null && b.buffers.count() > 1
                ? Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "neurotome-prefetch");
                    t.setDaemon(true);
                    return t;
                })
                : null;
    }

    /**
     * Validates {@code checkpoint} against its family table and keeps every weight on
     * {@code device}; the checkpoint must stay open until the weights are closed.
     */
    public static Weights load(Checkpoint checkpoint, Device device) {
        return load(checkpoint, device, MemoryBudget.unlimited());
    }

    /**
     * Validates {@code checkpoint} and makes its weights resident on {@code device} when their
     * float32 size fits {@code budget}, or streams them otherwise. The weights keep reading the
     * checkpoint (embedding rows, streamed layers), which must stay open until they are closed.
     * A budget too small for even one layer is a BAD_INPUT error naming the layer and the
     * smallest budget that works.
     */
    public static Weights load(Checkpoint checkpoint, Device device, MemoryBudget budget) {
        return load(checkpoint, device, budget, null);
    }

    /**
     * As {@link #load(Checkpoint, Device, MemoryBudget)}, with {@code overlay} (null for none)
     * applied to every tensor as it is read: kept and streamed weights alike are the
     * checkpoint's weights changed by the overlay.
     */
    public static Weights load(Checkpoint checkpoint, Device device, MemoryBudget budget, WeightOverlay overlay) {
        Residency plan = residency(checkpoint, budget);
        ModelConfig config = ModelConfig.from(checkpoint.config());
        Architecture arch = Architecture.forCheckpoint(checkpoint);
        TensorSource source = TensorSource.of(checkpoint);
        if (overlay != null) {
            source = overlay.over(source, arch, config);
        }
        Builder b = new Builder(config, arch, NDManager.newBaseManager(device, "PyTorch"), source);
        b.streaming = plan.streaming();
        b.budget = budget;
        try {
            b.reservation = budget.reserve(plan.bytes());
            if (plan.streaming()) {
                b.buffers = new LayerBuffers(plan.layerBuffers(), plan.bufferBytes());
            }
            b.unembedBlockRows = unembedBlockRows(config, plan.layerBytes());
            return b.build(false, plan.unembedKept());
        } catch (RuntimeException | Error e) {
            b.close();
            throw e;
        }
    }

    /**
     * How weights are held under a budget.
     *
     * @param streaming    layers are widened per use rather than kept
     * @param unembedKept  the unembedding is kept (else read in blocks per use)
     * @param bytes        the float32 bytes the weights hold at most at once
     * @param layerBytes   the float32 size of the largest layer
     * @param layerBuffers layers widened at once when streaming: 2 when the next layer is read
     *                     while one runs, else 1 (0 when kept)
     * @param bufferBytes  the size of one layer buffer (the largest layer, aligned)
     */
    public record Residency(boolean streaming, boolean unembedKept, long bytes, long layerBytes, int layerBuffers,
                            long bufferBytes) {
    }

    /**
     * How {@code checkpoint}'s weights would be held under what {@code budget} has left (after
     * validating the checkpoint against its family): kept when their float32 size fits, else
     * streamed. A budget too small for even one layer is a BAD_INPUT error naming the layer and
     * the smallest budget that works.
     */
    public static Residency residency(Checkpoint checkpoint, MemoryBudget budget) {
        ModelConfig config = ModelConfig.from(checkpoint.config());
        Architecture arch = Architecture.forCheckpoint(checkpoint);
        arch.validate(checkpoint, config);
        Sizes sizes = Sizes.of(arch, config);
        long available = budget.available();
        if (sizes.resident() + MemoryBudget.ACTIVATION_FLOOR <= available) {
            return new Residency(false, true, sizes.resident(), sizes.largestLayer(), 0, 0);
        }
        long need = sizes.streaming();
        if (need > available) {
            throw NeurotomeException.badInput(budget.origin() + " leaves " + MemoryBudget.format(available)
                    + " for " + checkpoint.dir() + ", less than streaming it needs: layer " + sizes.largestLayerIndex()
                    + " widens to " + MemoryBudget.format(sizes.buffer()) + " in float32, plus "
                    + MemoryBudget.format(sizes.small() + MemoryBudget.ACTIVATION_FLOOR)
                    + " for the norms and activations; the smallest --max-memory that works is "
                    + MemoryBudget.smallestFor(budget.limit() - MemoryBudget.RUNTIME_OVERHEAD - available + need));
        }
        long buffer = sizes.buffer();
        int buffers = available - need >= buffer ? 2 : 1;
        long left = available - need - (buffers - 1) * buffer;
        boolean unembedKept = sizes.unembed() <= left / 2;
        return new Residency(true, unembedKept, buffers * buffer + sizes.small() + (unembedKept ? sizes.unembed() : 0),
                sizes.largestLayer(), buffers, buffer);
    }

    /**
     * The smallest budget under which {@code checkpoint}'s weights can be streamed: one layer
     * in float32, the norms, the least room for activations and the runtime's own allowance.
     */
    public static long streamingFloor(Checkpoint checkpoint) {
        ModelConfig config = ModelConfig.from(checkpoint.config());
        return Sizes.of(Architecture.forCheckpoint(checkpoint), config).streaming() + MemoryBudget.RUNTIME_OVERHEAD;
    }

    /**
     * Weights from float values named and shaped as a checkpoint of {@code arch} stores them
     * ({@link Architecture#tensorName}, {@link Architecture#shape}), resident and contiguous,
     * for training. The arrays live in a sub-manager of {@code parent}, closed by {@link #close()}.
     */
    public static Weights fromTensors(NDManager parent, ModelConfig config, Architecture arch,
                                      Function<String, float[]> tensors) {
        Builder b = new Builder(config, arch, parent.newSubManager(), TensorSource.of(tensors));
        b.budget = MemoryBudget.unlimited();
        b.unembedBlockRows = config.vocabSize();
        try {
            return b.build(true, true);
        } catch (RuntimeException | Error e) {
            b.close();
            throw e;
        }
    }

    /**
     * Freshly initialised weights as transformers' {@code _init_weights} does for these
     * families: matrices and embeddings drawn from N(0, std²), norm weights 1 (0 where the
     * family scales by {@code 1 + w}), biases 0.
     */
    public static Weights initialize(NDManager parent, ModelConfig config, Random random, double std) {
        return fromTensors(parent, config, config.architecture(), initialTensors(config, random, std));
    }

    /** The values {@link #initialize} uses, by checkpoint tensor name. */
    public static Function<String, float[]> initialTensors(ModelConfig config, Random random, double std) {
        Architecture arch = config.architecture();
        Map<String, float[]> values = new LinkedHashMap<>();
        for (Role r : arch.roles(config)) {
            for (int l = 0; l < (r.perLayer() ? config.numLayers() : 1); l++) {
                long[] shape = arch.shape(r, config);
                float[] v = new float[Math.toIntExact(numel(shape))];
                boolean norm = NORMS.contains(r);
                boolean bias = r.key().endsWith("_bias");
                float unit = arch.normPlusOne() ? 0f : 1f;
                for (int i = 0; i < v.length; i++) {
                    v[i] = norm ? unit : bias ? 0f : (float) (random.nextGaussian() * std);
                }
                values.put(r.perLayer() ? arch.tensorName(r, l) : arch.tensorName(r), v);
            }
        }
        return values::get;
    }

    /**
     * Rows of one block of the unembedding: at most 64 MiB and no more than a layer holds, so
     * a block read per use fits in the room kept for activations. Every projection runs block
     * by block, kept or streamed, and the blocks depend on the model alone, so both compute
     * every logit the same way.
     */
    private static long unembedBlockRows(ModelConfig c, long largestLayer) {
        return Math.clamp(Math.min(largestLayer, UNEMBED_BLOCK_BYTES) / (4L * c.hiddenSize()), 1, c.vocabSize());
    }

    public ModelConfig config() {
        return config;
    }

    /** The family table these weights were read with (names as the source checkpoint spells them). */
    public Architecture architecture() {
        return arch;
    }

    public HeadLayout headLayout() {
        return new HeadLayout(arch, config);
    }

    /** The manager owning every weight array. */
    public NDManager manager() {
        return manager;
    }

    public Device device() {
        return manager.getDevice();
    }

    /** Whether layers are widened from the checkpoint on each lease rather than kept. */
    public boolean streaming() {
        return streaming;
    }

    /** The budget these weights were sized against; analyses take their caches from what it has left. */
    public MemoryBudget budget() {
        return budget;
    }

    /**
     * Layer {@code l}'s weights until the lease is closed: the kept layer, or (streaming) the
     * layer widened now. Arrays of a lease must not be used after it is closed.
     */
    public Lease<LayerWeights> layer(int l) {
        if (l < 0 || l >= config.numLayers()) {
            throw new IndexOutOfBoundsException("layer " + l + " outside 0.." + (config.numLayers() - 1));
        }
        if (!streaming) {
            return Lease.kept(layers.get(l));
        }
        Lease<LayerWeights> lease;
        synchronized (this) {
            Prefetch p = pending;
            pending = null;
            lease = p == null ? null : p.await();
            if (lease != null && p.layer() != l) {
                lease.close();
                lease = null;
            }
            if (lease == null) {
                lease = widenLayer(l, true);
            }
            if (prefetcher != null && l + 1 < config.numLayers()) {
                int next = l + 1;
                pending = new Prefetch(next, prefetcher.submit(() -> widenLayer(next, false)));
            }
        }
        return lease;
    }

    /**
     * Widens layer {@code l} into a free layer buffer; without one, into fresh memory when
     * {@code mustRun} (a caller holding more leases than there are buffers), else null.
     */
    private Lease<LayerWeights> widenLayer(int l, boolean mustRun) {
        MemorySegment buffer = buffers.poll();
        if (buffer == null && !mustRun) {
            return null;
        }
        Widening wd = buffer == null ? Widening.fresh(manager.newSubManager()) : inBuffer(buffer);
        try {
            return Lease.closing(widener(wd).layer(l), wd);
        } catch (RuntimeException | Error e) {
            wd.close();
            throw e;
        }
    }

    /** Arrays in a free layer buffer (given back on close), or in fresh memory when none is free. */
    private Widening pooled() {
        MemorySegment buffer = buffers.poll();
        return buffer == null ? Widening.fresh(manager.newSubManager()) : inBuffer(buffer);
    }

    private Widening inBuffer(MemorySegment buffer) {
        return new Widening(manager.newSubManager(), SegmentAllocator.slicingAllocator(buffer),
                () -> buffers.give(buffer));
    }

    /** A layer being widened ahead of its use on the prefetch thread. */
    private record Prefetch(int layer, Future<Lease<LayerWeights>> future) {
        /** The widened layer once it is ready, or null when no buffer was free for it. */
        Lease<LayerWeights> await() {
            try {
                return future.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while widening layer " + layer, e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                throw new IllegalStateException("widening layer " + layer + " failed", e.getCause());
            }
        }
    }

    /**
     * Layer {@code l}'s FFN value vectors [I, D] until the lease is closed: row k is neuron k's
     * column of the down projection (streaming widens only that matrix).
     */
    public Lease<NDArray> ffnValues(int l) {
        if (!streaming) {
            return Lease.kept(layers.get(l).ffnOut());
        }
        Widening wd = pooled();
        try {
            return Lease.closing(widener(wd).inOut(Role.DOWN, l), wd);
        } catch (RuntimeException | Error e) {
            wd.close();
            throw e;
        }
    }

    /**
     * Layer {@code l}'s post-FFN norm weight w [D] (Gemma 2) until the lease is closed, or null
     * when the family has none (streaming widens only that vector).
     */
    public Lease<NDArray> postFfnNorm(int l) {
        if (!arch.has(Role.LN2_POST, config)) {
            return null;
        }
        if (!streaming) {
            return Lease.kept(layers.get(l).ln2Post());
        }
        Widening wd = Widening.fresh(manager.newSubManager());
        try {
            return Lease.closing(widener(wd).plain(Role.LN2_POST, l), wd);
        } catch (RuntimeException | Error e) {
            wd.close();
            throw e;
        }
    }

    /**
     * Token embeddings of {@code ids} [B, S] as [B, S, D], in the caller's scope: gathered row
     * by row from the source, or looked up in the kept table of weights built for training
     * (so that gradients reach it).
     */
    public NDArray embed(NDArray ids) {
        if (embedTable != null) {
            return ids.getNDArrayInternal().embedding(ids, embedTable, SparseFormat.DENSE).singletonOrThrow();
        }
        long[] flat = ids.toLongArray();
        Shape s = ids.getShape();
        long d = config.hiddenSize();
        String name = arch.tensorName(Role.EMBED);
        try (Arena rows = Arena.ofConfined()) {
            MemorySegment seg = rows.allocate(4L * d * flat.length, 64);
            for (int i = 0; i < flat.length; i++) {
                source.read(name, flat[i] * d, d, seg.asSlice(4L * d * i, 4L * d));
            }
            try (NDManager tmp = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                NDArray aliased = tmp.create(buffer(seg), new Shape(s.get(0), s.get(1), d), DataType.FLOAT32);
                NDArray out = ids.getDevice().equals(Device.cpu()) ? aliased.duplicate()
                        : aliased.toDevice(ids.getDevice(), true);
                out.attach(ids.getManager());
                return out;
            }
        }
    }

    /** Learned position embeddings [P, D] (GPT-2), or null. */
    public NDArray posEmbed() {
        return posEmbed;
    }

    /**
     * {@code x} [..., D] through the unembedding W_U ({@code lm_head.weight}, or the token
     * embeddings when tied), plus {@code lm_head.bias} (GPT-J) when {@code bias}: [..., V], in
     * the caller's scope. A streamed unembedding is widened block by block for this call.
     */
    public NDArray unembed(NDArray x, boolean bias) {
        NDList parts = new NDList();
        long vocab = config.vocabSize();
        for (int b = 0; b * unembedBlockRows < vocab; b++) {
            long from = b * unembedBlockRows;
            long to = Math.min(vocab, from + unembedBlockRows);
            NDArray blockBias = bias && unembedBias != null
                    ? (to - from == vocab ? unembedBias : unembedBias.get(from + ":" + to)) : null;
            if (unembedBlocks != null) {
                parts.add(Linear.linear(x, unembedBlocks.get(b), blockBias).singletonOrThrow());
            } else {
                try (Widening wd = Widening.fresh(manager.newSubManager())) {
                    NDArray w = widener(wd).unembedRows(from, to);
                    NDArray part = Linear.linear(x, w, blockBias).singletonOrThrow();
                    part.attach(x.getManager());
                    parts.add(part);
                }
            }
        }
        return parts.size() == 1 ? parts.singletonOrThrow() : NDArrays.concat(parts, -1);
    }

    /** The unembedding W_U [V, D] of weights built for training (resident in one block). */
    public NDArray unembed() {
        if (unembedBlocks == null || unembedBlocks.size() != 1) {
            throw new IllegalStateException("the unembedding is not kept in one block (streamed or larger than "
                    + MemoryBudget.format(UNEMBED_BLOCK_BYTES) + ")");
        }
        return unembedBlocks.getFirst();
    }

    /** {@code lm_head.bias} [V] (GPT-J), or null. */
    public NDArray unembedBias() {
        return unembedBias;
    }

    /** The final norm's weight g [D]. */
    public NDArray finalNormWeight() {
        return lnF;
    }

    /** The final norm's bias [D] (LayerNorm families), or null. */
    public NDArray finalNormBias() {
        return lnFBias;
    }

    public NormKind normKind() {
        return arch.norm();
    }

    public double normEps() {
        return config.normEps();
    }

    /**
     * Every trainable array by a stable name ({@code embed}, {@code layers.3.qkv}, …); a tied
     * unembedding is the embedding and appears once. Weights built for training only.
     */
    public Map<String, NDArray> parameters() {
        requireTraining();
        Map<String, NDArray> p = new LinkedHashMap<>();
        p.put("embed", embedTable);
        putIfPresent(p, "pos_embed", posEmbed);
        for (int l = 0; l < layers.size(); l++) {
            LayerWeights w = layers.get(l);
            String n = "layers." + l + ".";
            putIfPresent(p, n + "ln1", w.ln1());
            putIfPresent(p, n + "ln1_bias", w.ln1Bias());
            putIfPresent(p, n + "qkv", w.qkv());
            putIfPresent(p, n + "qkv_bias", w.qkvBias());
            putIfPresent(p, n + "o", w.o());
            putIfPresent(p, n + "o_bias", w.oBias());
            putIfPresent(p, n + "ln2", w.ln2());
            putIfPresent(p, n + "ln2_bias", w.ln2Bias());
            putIfPresent(p, n + "ffn_in", w.ffnIn());
            putIfPresent(p, n + "ffn_in_bias", w.ffnInBias());
            putIfPresent(p, n + "ffn_out", w.ffnOut());
            putIfPresent(p, n + "ffn_out_bias", w.ffnOutBias());
            putIfPresent(p, n + "q_norm", w.qNorm());
            putIfPresent(p, n + "k_norm", w.kNorm());
            putIfPresent(p, n + "ln1_post", w.ln1Post());
            putIfPresent(p, n + "ln2_post", w.ln2Post());
        }
        p.put("ln_f", lnF);
        putIfPresent(p, "ln_f_bias", lnFBias);
        if (!config.tied()) {
            p.put("unembed", unembed());
        }
        putIfPresent(p, "unembed_bias", unembedBias);
        return p;
    }

    private void requireTraining() {
        if (embedTable == null) {
            throw new IllegalStateException("only weights built for training (fromTensors, initialize) have parameters");
        }
    }

    private static void putIfPresent(Map<String, NDArray> p, String name, NDArray a) {
        if (a != null) {
            p.put(name, a);
        }
    }

    /**
     * The weights as checkpoint tensors of {@link #architecture()}, in the family's own names,
     * shapes and orientation, stored as {@code dtype}; values are read from the arrays (the
     * embeddings from the source when no table is kept) when the writer reaches each tensor.
     * Resident weights only.
     */
    public List<OutputTensor> toOutputTensors(DType dtype) {
        if (streaming) {
            throw new IllegalStateException("streamed weights keep no layer to write back");
        }
        Saver sv = new Saver();
        List<OutputTensor> out = new ArrayList<>();
        for (String name : arch.tensorNames(config)) {
            Target t = sv.target(name);
            out.add(OutputTensor.ofLazyFloats(name, dtype, arch.shape(t.role, config), () -> sv.values(t.role, t.layer)));
        }
        return out;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (pending != null) {
                try {
                    Lease<LayerWeights> l = pending.await();
                    if (l != null) {
                        l.close();
                    }
                } catch (RuntimeException ignored) {
                    // the layer is being discarded; its failure does not matter any more
                }
                pending = null;
            }
        }
        if (prefetcher != null) {
            prefetcher.shutdownNow();
        }
        manager.close();
        if (buffers != null) {
            buffers.close();
        }
        if (arena != null) {
            arena.close();
        }
        if (reservation != null) {
            reservation.close();
        }
    }

    /**
     * Arrays for the span of a use: {@link #get()} them, then close the lease. A kept array's
     * lease closes nothing; a widened one's frees its memory.
     */
    public interface Lease<T> extends AutoCloseable {
        T get();

        @Override
        void close();

        private static <T> Lease<T> kept(T value) {
            return new Held<>(value, () -> { });
        }

        private static <T> Lease<T> closing(T value, Widening memory) {
            return new Held<>(value, memory::close);
        }
    }

    /** A {@link Lease} of {@code value} whose close runs {@code release}. */
    private record Held<T>(T value, Runnable release) implements Lease<T> {
        @Override
        public T get() {
            return value;
        }

        @Override
        public void close() {
            release.run();
        }
    }

    /** The float32 sizes that decide between resident and streamed weights. */
    private record Sizes(long resident, long largestLayer, int largestLayerIndex, long small, long unembed,
                         int layerTensors) {
        /** What streaming holds at least: one layer buffer, the small model-level tensors, the activation floor. */
        long streaming() {
            return buffer() + small + MemoryBudget.ACTIVATION_FLOOR;
        }

        /** One layer buffer: the largest layer with room to align each of its tensors. */
        long buffer() {
            return largestLayer + 64L * (layerTensors + 1);
        }

        static Sizes of(Architecture arch, ModelConfig c) {
            long[] layer = new long[c.numLayers()];
            long small = 0;
            int tensors = 0;
            for (Role r : arch.roles(c)) {
                long bytes = 4 * numel(arch.shape(r, c));
                if (r.perLayer()) {
                    tensors++;
                    for (int l = 0; l < layer.length; l++) {
                        layer[l] += bytes;
                    }
                } else if (r != Role.EMBED && r != Role.LM_HEAD) {
                    small += bytes;
                }
            }
            int largest = 0;
            long layers = 0;
            for (int l = 0; l < layer.length; l++) {
                layers += layer[l];
                if (layer[l] > layer[largest]) {
                    largest = l;
                }
            }
            long unembed = 4L * c.vocabSize() * c.hiddenSize();
            return new Sizes(layers + small + unembed, layer[largest], largest, small, unembed, tensors);
        }
    }

    /** Collects what the constructor needs; closes what it made on failure. */
    private static final class Builder {
        final ModelConfig config;
        final Architecture arch;
        final NDManager manager;
        final TensorSource source;
        Arena arena = Arena.ofShared();
        boolean streaming;
        MemoryBudget budget;
        MemoryBudget.Reservation reservation;
        NDArray embedTable;
        NDArray posEmbed;
        NDArray lnF;
        NDArray lnFBias;
        List<NDArray> unembedBlocks;
        long unembedBlockRows;
        NDArray unembedBias;
        List<LayerWeights> layers;
        LayerBuffers buffers;

        Builder(ModelConfig config, Architecture arch, NDManager manager, TensorSource source) {
            this.config = config;
            this.arch = arch;
            this.manager = manager;
            this.source = source;
        }

        Weights build(boolean training, boolean keepUnembed) {
            Widening wd = new Widening(manager, arena, () -> { });
            Widener w = new Widener(wd, training, config, arch, source);
            posEmbed = arch.has(Role.POS_EMBED, config) ? w.plain(Role.POS_EMBED, -1) : null;
            lnF = w.plain(Role.LN_F, -1);
            lnFBias = w.optional(Role.LN_F_BIAS, -1);
            unembedBias = w.optional(Role.LM_HEAD_BIAS, -1);
            if (training) {
                embedTable = w.plain(Role.EMBED, -1);
                unembedBlocks = List.of(config.tied() ? embedTable : w.plain(Role.LM_HEAD, -1));
            } else if (keepUnembed) {
                List<NDArray> blocks = new ArrayList<>();
                for (long from = 0; from < config.vocabSize(); from += unembedBlockRows) {
                    blocks.add(w.unembedRows(from, Math.min(config.vocabSize(), from + unembedBlockRows)));
                }
                unembedBlocks = List.copyOf(blocks);
            }
            if (!streaming) {
                List<LayerWeights> ls = new ArrayList<>();
                for (int l = 0; l < config.numLayers(); l++) {
                    ls.add(w.layer(l));
                }
                layers = Collections.unmodifiableList(ls);
            }
            return new Weights(this);
        }

        void close() {
            manager.close();
            if (buffers != null) {
                buffers.close();
            }
            arena.close();
            if (reservation != null) {
                reservation.close();
            }
        }
    }

    /**
     * Where widened arrays live: NDArrays in {@code manager} over native memory from
     * {@code memory}; closing closes the arrays, then {@code release} gives the memory back.
     */
    private record Widening(NDManager manager, SegmentAllocator memory, Runnable release) implements AutoCloseable {
        /** Arrays over fresh memory of their own, freed on close. */
        static Widening fresh(NDManager manager) {
            Arena arena = Arena.ofShared();
            return new Widening(manager, arena, arena::close);
        }

        @Override
        public void close() {
            manager.close();
            release.run();
        }
    }

    /**
     * The native memory streamed layers are widened into, allocated once and reused lease after
     * lease (no allocation, zeroing or page faults per layer): one buffer, or two so the next
     * layer can be widened while one runs.
     */
    private static final class LayerBuffers implements AutoCloseable {
        private final Arena arena = Arena.ofShared();
        private final int count;
        private final java.util.concurrent.ConcurrentLinkedQueue<MemorySegment> free =
                new java.util.concurrent.ConcurrentLinkedQueue<>();

        LayerBuffers(int count, long bytes) {
            this.count = count;
            for (int i = 0; i < count; i++) {
                free.add(arena.allocate(bytes, 64));
            }
        }

        int count() {
            return count;
        }

        /** A free buffer, or null when all are leased. */
        MemorySegment poll() {
            return free.poll();
        }

        void give(MemorySegment buffer) {
            free.add(buffer);
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    private Widener widener(Widening wd) {
        return new Widener(wd, false, config, arch, source);
    }


    /**
     * Reads checkpoint-layout tensors into runtime arrays: decoded into native memory that
     * libtorch aliases (copied to the device when it is not the CPU). Matrices stored in the
     * other orientation become transposed views; weights for training are made contiguous, so
     * that the optimiser updates plain tensors.
     */
    private static final class Widener {
        private final Widening wd;
        private final boolean training;
        private final ModelConfig c;
        private final Architecture arch;
        private final TensorSource src;

        Widener(Widening wd, boolean training, ModelConfig c, Architecture arch, TensorSource src) {
            this.wd = wd;
            this.training = training;
            this.c = c;
            this.arch = arch;
            this.src = src;
        }

        private String name(Role r, int l) {
            return r.perLayer() ? arch.tensorName(r, l) : arch.tensorName(r);
        }

        /** An array over {@code seg}, registered with no scope: it lives as long as the widening. */
        private NDArray alias(MemorySegment seg, long... shape) {
            NDArray a;
            if (wd.manager().getDevice().equals(Device.cpu())) {
                a = wd.manager().create(buffer(seg), new Shape(shape), DataType.FLOAT32);
            } else {
                try (NDManager host = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                    a = host.create(buffer(seg), new Shape(shape), DataType.FLOAT32).toDevice(wd.manager().getDevice(), true);
                    a.attach(wd.manager());
                }
            }
            NDScope.unregister(a);
            return a;
        }

        /** {@code a} as returned to callers: unregistered from any scope, contiguous for training. */
        private NDArray finish(NDArray a) {
            NDArray out = training && a.getShape().dimension() == 2 ? a.reshape(-1).reshape(a.getShape()) : a;
            NDScope.unregister(out);
            return out;
        }

        /** The tensor of {@code r} in its stored shape. */
        NDArray plain(Role r, int l) {
            long[] shape = arch.shape(r, c);
            long n = numel(shape);
            MemorySegment seg = wd.memory().allocate(4 * n, 64);
            src.read(name(r, l), 0, n, seg);
            return alias(seg, shape);
        }

        NDArray optional(Role r, int l) {
            return arch.has(r, c) ? plain(r, l) : null;
        }

        /** A layer matrix as [out, in]. */
        NDArray outIn(Role r, int l) {
            NDArray a = plain(r, l);
            return finish(arch.weightLayout() == WeightLayout.LINEAR ? a : a.transpose());
        }

        /** A layer matrix as [in, out]. */
        NDArray inOut(Role r, int l) {
            NDArray a = plain(r, l);
            return finish(arch.weightLayout() == WeightLayout.CONV1D ? a : a.transpose());
        }

        /** Rows [from, to) of the unembedding W_U [V, D] (the token embeddings when tied). */
        NDArray unembedRows(long from, long to) {
            long d = c.hiddenSize();
            MemorySegment seg = wd.memory().allocate(4 * (to - from) * d, 64);
            src.read(name(c.tied() ? Role.EMBED : Role.LM_HEAD, -1), from * d, (to - from) * d, seg);
            return finish(alias(seg, to - from, d));
        }

        /**
         * The matrices (or biases) of {@code roles}, stacked along their output axis as
         * [Σ out, in] (or [Σ out]), rows reordered so that row j is stacked row {@code perm[j]}
         * (null: as stacked); {@code rows[i]} is role i's output size, and an absent bias role is
         * zeros.
         */
        NDArray stacked(int l, int[] perm, long[] rows, Role... roles) {
            boolean bias = arch.shape(roles[0], c).length == 1;
            long width = bias ? 1 : c.hiddenSize();
            long total = 0;
            for (long r : rows) {
                total += r;
            }
            if (!bias && arch.weightLayout() == WeightLayout.CONV1D) {
                NDList parts = new NDList();
                for (Role r : roles) {
                    parts.add(plain(r, l).transpose());
                }
                NDArray all = parts.size() == 1 ? parts.singletonOrThrow() : NDArrays.concat(parts, 0);
                if (perm != null) {
                    long[] idx = new long[perm.length];
                    for (int j = 0; j < perm.length; j++) {
                        idx[j] = perm[j];
                    }
                    all = all.get(wd.manager().create(idx));
                }
                return finish(all);
            }
            MemorySegment dst = wd.memory().allocate(4 * total * width, 64);
            try (Arena scratch = Arena.ofConfined()) {
                MemorySegment stack = perm == null ? dst : scratch.allocate(4 * total * width, 64);
                long off = 0;
                for (int i = 0; i < roles.length; i++) {
                    long n = rows[i] * width;
                    if (arch.has(roles[i], c)) {
                        src.read(name(roles[i], l), 0, n, stack.asSlice(4 * off, 4 * n));
                    } else {
                        stack.asSlice(4 * off, 4 * n).fill((byte) 0);
                    }
                    off += n;
                }
                if (perm != null) {
                    long rowBytes = 4 * width;
                    for (int j = 0; j < perm.length; j++) {
                        MemorySegment.copy(stack, perm[j] * rowBytes, dst, j * rowBytes, rowBytes);
                    }
                }
            }
            return finish(bias ? alias(dst, total) : alias(dst, total, width));
        }

        LayerWeights layer(int l) {
            int hd = c.headDim();
            long qRows = (long) c.numHeads() * hd;
            long kvRows = (long) c.numKvHeads() * hd;
            int rows = (int) (qRows + 2 * kvRows);
            int[] perm = qkvRowOrder(c, arch);
            NDArray qkv;
            NDArray qkvBias = null;
            if (arch.fusedQkv()) {
                qkv = perm == null ? outIn(Role.QKV, l) : stacked(l, perm, new long[] {rows}, Role.QKV);
                if (arch.has(Role.QKV_BIAS, c)) {
                    qkvBias = stacked(l, perm, new long[] {rows}, Role.QKV_BIAS);
                }
            } else {
                long[] parts = {qRows, kvRows, kvRows};
                qkv = stacked(l, perm, parts, Role.Q, Role.K, Role.V);
                if (arch.has(Role.Q_BIAS, c) || arch.has(Role.K_BIAS, c) || arch.has(Role.V_BIAS, c)) {
                    qkvBias = stacked(l, perm, parts, Role.Q_BIAS, Role.K_BIAS, Role.V_BIAS);
                }
            }
            long ffn = c.ffnSize();
            NDArray ffnIn;
            NDArray ffnInBias = null;
            if (arch.fusedGateUp()) {
                ffnIn = outIn(Role.GATE_UP, l);
            } else if (arch.gatedMlp()) {
                ffnIn = stacked(l, null, new long[] {ffn, ffn}, Role.GATE, Role.UP);
                if (arch.has(Role.GATE_BIAS, c) || arch.has(Role.UP_BIAS, c)) {
                    ffnInBias = stacked(l, null, new long[] {ffn, ffn}, Role.GATE_BIAS, Role.UP_BIAS);
                }
            } else {
                ffnIn = outIn(Role.UP, l);
                ffnInBias = optional(Role.UP_BIAS, l);
            }
            return new LayerWeights(optional(Role.LN1, l), optional(Role.LN1_BIAS, l), qkv, qkvBias,
                    inOut(Role.O, l), optional(Role.O_BIAS, l), optional(Role.LN2, l), optional(Role.LN2_BIAS, l),
                    ffnIn, ffnInBias, inOut(Role.DOWN, l), optional(Role.DOWN_BIAS, l),
                    optional(Role.Q_NORM, l), optional(Role.K_NORM, l), optional(Role.LN1_POST, l),
                    optional(Role.LN2_POST, l));
        }
    }

    /**
     * The row order of the runtime's qkv ({@link LayerWeights#qkv}) over the checkpoint's rows
     * (q, k, v stacked, or the fused tensor): row j is stored row {@code perm[j]}; null when
     * they are in the same order. Interleaved rotary reorders each q/k head's rotated dims
     * evens-then-odds; a qkv fused per head is regrouped into q, k and v blocks.
     */
    private static int[] qkvRowOrder(ModelConfig c, Architecture arch) {
        int hd = c.headDim();
        int rows = (c.numHeads() + 2 * c.numKvHeads()) * hd;
        int[] perm = arch.rotary() == RotaryStyle.INTERLEAVED
                ? interleavedToHalf(c.numHeads() + c.numKvHeads(), hd, c.rotaryDim(), rows) : null;
        if (arch.fusedQkvPerHead()) {
            perm = compose(perm, perHeadToBlocks(c.numHeads(), hd));
        }
        return perm;
    }

    /**
     * {@code w} (layer weights of this model) with {@code deltas} added, each given per
     * projection role in {@code nn.Linear} orientation [out, in] (what PEFT's
     * {@code scale·B·A} is) and placed where the runtime keeps that projection: q/k/v (or the
     * fused qkv) rows of {@link LayerWeights#qkv} in its row order, gate/up rows of
     * {@link LayerWeights#ffnIn}, and, transposed, {@link LayerWeights#o} and
     * {@link LayerWeights#ffnOut}. The sums are new arrays in the deltas' graph, so gradients
     * reach whatever the deltas were computed from while W stays as it is (LoRA training).
     */
    public LayerWeights withDeltas(LayerWeights w, Map<Role, NDArray> deltas) {
        if (deltas.isEmpty()) {
            return w;
        }
        int hd = config.headDim();
        long qRows = (long) config.numHeads() * hd;
        long kvRows = (long) config.numKvHeads() * hd;
        long ffn = config.ffnSize();
        NDArray qkv = w.qkv();
        NDArray qkvDelta = arch.fusedQkv() ? deltas.get(Role.QKV)
                : stack(deltas, new Role[] {Role.Q, Role.K, Role.V}, new long[] {qRows, kvRows, kvRows});
        if (qkvDelta != null) {
            int[] perm = qkvRowOrder(config, arch);
            if (perm != null) {
                long[] idx = new long[perm.length];
                for (int j = 0; j < perm.length; j++) {
                    idx[j] = perm[j];
                }
                qkvDelta = qkvDelta.get(Transformer.owned(qkvDelta.getManager().create(idx)));
            }
            qkv = qkv.add(qkvDelta);
        }
        NDArray ffnIn = w.ffnIn();
        NDArray ffnInDelta = arch.fusedGateUp() ? deltas.get(Role.GATE_UP)
                : arch.gatedMlp() ? stack(deltas, new Role[] {Role.GATE, Role.UP}, new long[] {ffn, ffn})
                : deltas.get(Role.UP);
        if (ffnInDelta != null) {
            ffnIn = ffnIn.add(ffnInDelta);
        }
        NDArray o = deltas.containsKey(Role.O) ? w.o().add(deltas.get(Role.O).transpose()) : w.o();
        NDArray ffnOut = deltas.containsKey(Role.DOWN) ? w.ffnOut().add(deltas.get(Role.DOWN).transpose()) : w.ffnOut();
        return new LayerWeights(w.ln1(), w.ln1Bias(), qkv, w.qkvBias(), o, w.oBias(), w.ln2(), w.ln2Bias(), ffnIn,
                w.ffnInBias(), ffnOut, w.ffnOutBias(), w.qNorm(), w.kNorm(), w.ln1Post(), w.ln2Post());
    }

    /** The deltas of {@code roles} stacked along their rows, zeros for those absent; null when all are absent. */
    private NDArray stack(Map<Role, NDArray> deltas, Role[] roles, long[] rows) {
        NDArray any = null;
        for (Role r : roles) {
            any = any != null ? any : deltas.get(r);
        }
        if (any == null) {
            return null;
        }
        NDList parts = new NDList();
        for (int i = 0; i < roles.length; i++) {
            NDArray d = deltas.get(roles[i]);
            parts.add(d != null ? d : any.getManager().zeros(new Shape(rows[i], config.hiddenSize())));
        }
        return NDArrays.concat(parts, 0);
    }

    /** A direct buffer over {@code seg}, which libtorch aliases rather than copies. */
    private static java.nio.ByteBuffer buffer(MemorySegment seg) {
        return seg.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    private record Target(Role role, int layer) {
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** [rows, cols] row-major → [cols, rows]. */
    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    /**
     * For interleaved rotary: within each of the first {@code nHeads} heads (of {@code hd}
     * rows), the row order that puts the rotated dims evens first, then odds. Row j of the
     * result is row {@code perm[j]} of the source.
     */
    static int[] interleavedToHalf(int nHeads, int hd, int rotaryDim, int totalRows) {
        int[] perm = new int[totalRows];
        for (int i = 0; i < totalRows; i++) {
            perm[i] = i;
        }
        for (int h = 0; h < nHeads; h++) {
            int base = h * hd;
            for (int k = 0; k < rotaryDim / 2; k++) {
                perm[base + k] = base + 2 * k;
                perm[base + rotaryDim / 2 + k] = base + 2 * k + 1;
            }
        }
        return perm;
    }

    /**
     * For a qkv fused per head (GPT-NeoX: head h's q, k and v rows at {@code 3·hd·h}, {@code +hd},
     * {@code +2hd}), the row order that groups all q heads, then all k heads, then all v heads.
     * Row j of the result is row {@code perm[j]} of the source.
     */
    static int[] perHeadToBlocks(int nHeads, int hd) {
        int[] perm = new int[3 * nHeads * hd];
        for (int part = 0; part < 3; part++) {
            for (int h = 0; h < nHeads; h++) {
                for (int i = 0; i < hd; i++) {
                    perm[(part * nHeads + h) * hd + i] = 3 * hd * h + part * hd + i;
                }
            }
        }
        return perm;
    }

    /**
     * The row order of applying {@code outer} to rows already reordered by {@code inner}: row j
     * of the result is row {@code inner[outer[j]]} of the source (null means as they are).
     */
    static int[] compose(int[] outer, int[] inner) {
        if (outer == null) {
            return inner;
        }
        int[] perm = new int[outer.length];
        for (int j = 0; j < perm.length; j++) {
            perm[j] = inner[outer[j]];
        }
        return perm;
    }

    /** Row {@code j} of the result is row {@code perm[j]} of {@code a} (rows of {@code cols} values). */
    static float[] permuteRows(float[] a, int cols, int[] perm, boolean inverse) {
        float[] out = new float[a.length];
        for (int j = 0; j < perm.length; j++) {
            int from = inverse ? j : perm[j];
            int to = inverse ? perm[j] : j;
            System.arraycopy(a, from * cols, out, to * cols, cols);
        }
        return out;
    }

    static float[] slice(float[] a, int from, int length) {
        float[] out = new float[length];
        System.arraycopy(a, from, out, 0, length);
        return out;
    }

    /** Maps runtime arrays back to checkpoint-layout values. */
    private final class Saver {
        private final Map<String, Target> byName = new LinkedHashMap<>();

        Saver() {
            for (Role r : arch.roles(config)) {
                for (int l = 0; l < (r.perLayer() ? config.numLayers() : 1); l++) {
                    byName.put(r.perLayer() ? arch.tensorName(r, l) : arch.tensorName(r), new Target(r, l));
                }
            }
        }

        Target target(String name) {
            return byName.get(name);
        }

        /** A model-level tensor read from the source as it is stored. */
        private float[] fromSource(Role r) {
            int n = Math.toIntExact(numel(arch.shape(r, config)));
            float[] v = new float[n];
            try (Arena a = Arena.ofConfined()) {
                MemorySegment seg = a.allocate(4L * n, 64);
                source.read(arch.tensorName(r), 0, n, seg);
                MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, v, 0, n);
            }
            return v;
        }

        /** A [out, in] runtime matrix in the checkpoint's orientation. */
        private float[] fromReader(float[] v, int out, int in) {
            return arch.weightLayout() == WeightLayout.LINEAR ? v : transpose(v, out, in);
        }

        /** A [in, out] runtime matrix in the checkpoint's orientation. */
        private float[] fromWriter(float[] v, int in, int out) {
            return arch.weightLayout() == WeightLayout.CONV1D ? v : transpose(v, in, out);
        }

        private float[] qkvRows(int l, boolean bias) {
            LayerWeights w = layers.get(l);
            float[] v = (bias ? w.qkvBias() : w.qkv()).toFloatArray();
            int hd = config.headDim();
            if (arch.rotary() == RotaryStyle.INTERLEAVED) {
                int rows = (config.numHeads() + 2 * config.numKvHeads()) * hd;
                int[] perm = interleavedToHalf(config.numHeads() + config.numKvHeads(), hd, config.rotaryDim(), rows);
                v = permuteRows(v, bias ? 1 : config.hiddenSize(), perm, true);
            }
            if (arch.fusedQkvPerHead()) {
                v = permuteRows(v, bias ? 1 : config.hiddenSize(), perHeadToBlocks(config.numHeads(), hd), true);
            }
            return v;
        }

        float[] values(Role r, int l) {
            int d = config.hiddenSize();
            int hd = config.headDim();
            int qRows = config.numHeads() * hd;
            int kvRows = config.numKvHeads() * hd;
            int ffn = config.ffnSize();
            LayerWeights w = r.perLayer() ? layers.get(l) : null;
            return switch (r) {
                case EMBED -> embedTable != null ? embedTable.toFloatArray() : fromSource(r);
                case POS_EMBED -> posEmbed.toFloatArray();
                case LN_F -> lnF.toFloatArray();
                case LN_F_BIAS -> lnFBias.toFloatArray();
                case LM_HEAD -> embedTable != null ? unembed().toFloatArray() : fromSource(r);
                case LM_HEAD_BIAS -> unembedBias.toFloatArray();
                case LN1 -> w.ln1().toFloatArray();
                case LN1_BIAS -> w.ln1Bias().toFloatArray();
                case LN2 -> w.ln2().toFloatArray();
                case LN2_BIAS -> w.ln2Bias().toFloatArray();
                case QKV -> fromReader(qkvRows(l, false), qRows + 2 * kvRows, d);
                case QKV_BIAS -> qkvRows(l, true);
                case Q -> fromReader(slice(qkvRows(l, false), 0, qRows * d), qRows, d);
                case K -> fromReader(slice(qkvRows(l, false), qRows * d, kvRows * d), kvRows, d);
                case V -> fromReader(slice(qkvRows(l, false), (qRows + kvRows) * d, kvRows * d), kvRows, d);
                case Q_BIAS -> slice(qkvRows(l, true), 0, qRows);
                case K_BIAS -> slice(qkvRows(l, true), qRows, kvRows);
                case V_BIAS -> slice(qkvRows(l, true), qRows + kvRows, kvRows);
                case O -> fromWriter(w.o().toFloatArray(), qRows, d);
                case O_BIAS -> w.oBias().toFloatArray();
                case GATE -> fromReader(slice(w.ffnIn().toFloatArray(), 0, ffn * d), ffn, d);
                case GATE_BIAS -> slice(w.ffnInBias().toFloatArray(), 0, ffn);
                case UP -> arch.gatedMlp()
                        ? fromReader(slice(w.ffnIn().toFloatArray(), ffn * d, ffn * d), ffn, d)
                        : fromReader(w.ffnIn().toFloatArray(), ffn, d);
                case UP_BIAS -> arch.gatedMlp()
                        ? slice(w.ffnInBias().toFloatArray(), ffn, ffn)
                        : w.ffnInBias().toFloatArray();
                case DOWN -> fromWriter(w.ffnOut().toFloatArray(), ffn, d);
                case DOWN_BIAS -> w.ffnOutBias().toFloatArray();
                case GATE_UP -> fromReader(w.ffnIn().toFloatArray(), 2 * ffn, d);
                case Q_NORM -> w.qNorm().toFloatArray();
                case K_NORM -> w.kNorm().toFloatArray();
                case LN1_POST -> w.ln1Post().toFloatArray();
                case LN2_POST -> w.ln2Post().toFloatArray();
            };
        }
    }
}
