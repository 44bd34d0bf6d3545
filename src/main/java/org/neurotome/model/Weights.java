package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Linear;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.NormKind;
import org.neurotome.arch.Role;
import org.neurotome.checkpoint.Checkpoint;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * {@link MemoryBudget} chooses ({@link Residency}): the weights are resident when their float32
 * size fits it, streamed otherwise, and no caller needs to know which. Streamed layers are
 * widened by a {@link Widener} into reusable {@link LayerBuffers}, the next layer on a prefetch
 * thread. Embedding rows are always gathered
 * from the source (the table is never widened whole); the unembedding is kept when it fits
 * and read in vocabulary blocks otherwise. Widened tensors live in native memory that
 * libtorch reads directly: matrices stored transposed to the runtime orientation become
 * transposed views, never copies.
 *
 * <p>Weights built for training ({@link #fromTensors}, {@link InitialWeights}) are resident,
 * contiguous and hold the whole embedding table as a parameter, and can be written back in
 * the family's Hugging Face layout ({@link CheckpointTensors}).
 *
 * <p>Its length (about 710 lines) is the lease: resident and streamed layers, the prefetch
 * thread and the unembedding held whole or in blocks must be released in one order, so they
 * stay in one class; the layout conversion ({@code arch/RuntimeLayout}) and the writing back
 * ({@link CheckpointTensors}) live in their own classes.
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
    /** What the users of the weights work in: the budget they were loaded under, or a plan stage's share of it ({@link #workIn}). */
    private MemoryBudget working;
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
    private final LayerExperts.ExpertCounter expertReads = new LayerExperts.ExpertCounter();
    private Prefetch pending;

    private Weights(Builder b) {
        this.config = b.config;
        this.arch = b.arch;
        this.manager = b.manager;
        this.arena = b.arena;
        this.source = b.source;
        this.streaming = b.streaming;
        this.working = b.budget;
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
        Residency plan = Residency.of(checkpoint, budget);
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
     * Rows of one block of the unembedding: at most 64 MiB and no more than a layer holds, so
     * a block read per use fits in the room kept for activations. Every projection runs block
     * by block, kept or streamed, and the blocks depend on the model alone, so both compute
     * every logit the same way.
     */
    private static long unembedBlockRows(ModelConfig c, long largestLayer) {
        return Math.clamp(Math.min(largestLayer, UNEMBED_BLOCK_BYTES) / (4L * c.hiddenSize()), 1, c.vocabSize());
    }

    private Widener widener(Widening wd) {
        return new Widener(wd, false, config, arch, source);
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

    /** What the weights are read from (the checkpoint, through any overlay). */
    TensorSource source() {
        return source;
    }

    /** The whole token-embedding table of weights built for training, else null (rows are gathered). */
    NDArray embedTable() {
        return embedTable;
    }

    /** Whether layers are widened from the checkpoint on each lease rather than kept. */
    public boolean streaming() {
        return streaming;
    }

    /** The memory the users of these weights work in beside them, shared out by its one owner. */
    public WorkingMemory memory() {
        return new WorkingMemory(working, streaming);
    }

    /**
     * Until the returned stage is closed, the users of these weights work in {@code share} (a
     * plan stage's share of the budget they were loaded under) instead of in all that budget
     * has left.
     */
    public Stage workIn(MemoryBudget share) {
        MemoryBudget before = working;
        working = share;
        return () -> working = before;
    }

    /** A stage's share in force over the weights' users, until closed. */
    public interface Stage extends AutoCloseable {
        @Override
        void close();
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
            // a streamed sparse layer's routed experts are read one at a time, once the router has chosen
            return Lease.closing(new Widener(wd, false, config, arch, source, expertReads).layer(l), wd);
        } catch (RuntimeException | Error e) {
            wd.close();
            throw e;
        }
    }

    /** The routed experts streamed sparse layers have read so far, over every layer and lease. */
    long expertsRead() {
        return expertReads.experts();
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
     * column of the down projection (streaming widens only that matrix); in a sparse layer every
     * expert's columns, expert-major, the shared expert's last, as a new array of the lease's
     * own, outside the layer buffers the budget reserves.
     */
    public Lease<NDArray> ffnValues(int l) {
        if (!streaming) {
            LayerWeights lw = layers.get(l);
            if (lw.experts() == null) {
                return Lease.kept(lw.ffnOut());
            }
            NDArray values = lw.experts().values(lw.sharedExpert());
            return new Held<>(values, values::close);
        }
        // a layer buffer holds a sparse layer without its routed experts: their values get memory of their own
        Widening wd = config.sparseLayer(l) ? Widening.fresh(manager.newSubManager()) : pooled();
        try {
            Widener widener = widener(wd);
            return Lease.closing(config.sparseLayer(l) ? widener.expertValues(l) : widener.inOut(Role.DOWN, l), wd);
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
        forEachUnembedBlock((from, w) -> {
            long to = from + w.getShape().get(0);
            NDArray blockBias = bias && unembedBias != null
                    ? (to - from == vocab ? unembedBias : unembedBias.get(from + ":" + to)) : null;
            NDArray part = Linear.linear(x, w, blockBias).singletonOrThrow();
            part.attach(x.getManager());
            parts.add(part);
        });
        return parts.size() == 1 ? parts.singletonOrThrow() : NDArrays.concat(parts, -1);
    }

    /** What {@link #forEachUnembedBlock} hands over: rows {@code from …} of W_U. */
    @FunctionalInterface
    public interface UnembedBlock {
        void accept(long from, NDArray rows);
    }

    /**
     * Hands the unembedding W_U ({@code lm_head.weight}, or the token embeddings when tied) to
     * {@code visit} in blocks of rows, in vocabulary order: the kept blocks, or each widened from
     * the checkpoint for the call and freed after it. A block is valid only during its visit;
     * what the visitor keeps must be attached to a manager of its own.
     */
    public void forEachUnembedBlock(UnembedBlock visit) {
        long vocab = config.vocabSize();
        for (int b = 0; b * unembedBlockRows < vocab; b++) {
            long from = b * unembedBlockRows;
            long to = Math.min(vocab, from + unembedBlockRows);
            if (unembedBlocks != null) {
                visit.accept(from, unembedBlocks.get(b));
            } else {
                try (Widening wd = Widening.fresh(manager.newSubManager())) {
                    visit.accept(from, widener(wd).unembedRows(from, to));
                }
            }
        }
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
            putIfPresent(p, n + "router", w.router());
            putIfPresent(p, n + "shared_gate", w.sharedGate());
            if (w.experts() != null) {
                List<ExpertWeights> experts = w.experts().kept();
                for (int e = 0; e < experts.size(); e++) {
                    p.put(n + "experts." + e + ".in", experts.get(e).in());
                    p.put(n + "experts." + e + ".out", experts.get(e).out());
                }
            }
            if (w.sharedExpert() != null) {
                p.put(n + "shared_expert.in", w.sharedExpert().in());
                p.put(n + "shared_expert.out", w.sharedExpert().out());
            }
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








    /** A direct buffer over {@code seg}, which libtorch aliases rather than copies. */
    static java.nio.ByteBuffer buffer(MemorySegment seg) {
        return seg.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }


}
