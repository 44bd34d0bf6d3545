package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.arch.RuntimeLayout;
import org.neurotome.arch.WeightLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads checkpoint-layout tensors into runtime arrays: decoded into native memory that
 * libtorch aliases (copied to the device when it is not the CPU). Matrices stored in the
 * other orientation become transposed views; weights for training are made contiguous, so
 * that the optimiser updates plain tensors.
 */
final class Widener {
    private final Widening wd;
    private final boolean training;
    private final ModelConfig c;
    private final Architecture arch;
    private final TensorSource src;
    private final LayerExperts.ExpertCounter deferred;

    Widener(Widening wd, boolean training, ModelConfig c, Architecture arch, TensorSource src) {
        this(wd, training, c, arch, src, null);
    }

    /**
     * A widener that, when {@code deferred} is not null, leaves a sparse layer's routed experts
     * to be read one at a time when a forward asks for them ({@link LayerExperts}), counting
     * them there.
     */
    Widener(Widening wd, boolean training, ModelConfig c, Architecture arch, TensorSource src,
            LayerExperts.ExpertCounter deferred) {
        this.wd = wd;
        this.training = training;
        this.c = c;
        this.arch = arch;
        this.src = src;
        this.deferred = deferred;
    }

    private String name(Role r, int l) {
        return r.perLayer() ? arch.tensorName(r, l) : arch.tensorName(r);
    }

    /** An array over {@code seg}, registered with no scope: it lives as long as the widening. */
    private NDArray alias(MemorySegment seg, long... shape) {
        NDArray a;
        if (wd.manager().getDevice().equals(Device.cpu())) {
            a = wd.manager().create(Weights.buffer(seg), new Shape(shape), DataType.FLOAT32);
        } else {
            try (NDManager host = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                a = host.create(Weights.buffer(seg), new Shape(shape), DataType.FLOAT32).toDevice(wd.manager().getDevice(), true);
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
        long n = Weights.numel(shape);
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
        int[] perm = RuntimeLayout.qkvRowOrder(c, arch);
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
        NDArray ffnOut = null;
        NDArray router = null;
        NDArray sharedGate = null;
        LayerExperts experts = null;
        ExpertWeights shared = null;
        if (c.sparseLayer(l)) {
            org.neurotome.arch.Experts x = c.features().experts();
            ffnIn = null;
            if (deferred == null) {
                List<ExpertWeights> kept = new ArrayList<>();
                for (int e = 0; e < x.count(); e++) {
                    kept.add(expert(l, e));
                }
                experts = LayerExperts.kept(kept);
            } else {
                experts = LayerExperts.streamed(x.count(), wd.manager(),
                        (memory, e) -> new Widener(memory, training, c, arch, src).expert(l, e), deferred);
            }
            shared = x.sharedWidth() == 0 ? null : shared(l);
            router = outIn(Role.ROUTER, l);
            sharedGate = arch.has(Role.SHARED_EXPERT_GATE, c, l) ? outIn(Role.SHARED_EXPERT_GATE, l) : null;
        } else if (arch.fusedGateUp()) {
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
        if (!c.sparseLayer(l)) {
            ffnOut = inOut(Role.DOWN, l);
        }
        NDArray ffnOutBias = c.sparseLayer(l) ? null : optional(Role.DOWN_BIAS, l);
        return new LayerWeights(optional(Role.LN1, l), optional(Role.LN1_BIAS, l), qkv, qkvBias,
                inOut(Role.O, l), optional(Role.O_BIAS, l), optional(Role.LN2, l), optional(Role.LN2_BIAS, l),
                ffnIn, ffnInBias, ffnOut, ffnOutBias,
                optional(Role.Q_NORM, l), optional(Role.K_NORM, l), optional(Role.LN1_POST, l),
                optional(Role.LN2_POST, l), router, sharedGate, experts, shared);
    }

    /**
     * Where one expert's [rows, cols] matrix lies: a whole tensor, or a block of elements of a
     * tensor that fuses every expert (transformers v5).
     */
    private record Block(String name, long offset) {
    }

    /** Expert {@code e}'s gate (or up) rows [I_e, D] in layer {@code l}. */
    private Block expertIn(int l, int e, boolean up) {
        long n = (long) c.features().experts().width() * c.hiddenSize();
        if (arch.fusedExperts()) {
            return new Block(arch.tensorName(Role.EXPERTS_GATE_UP, l), (2L * e + (up ? 1 : 0)) * n);
        }
        return new Block(arch.tensorName(up ? Role.EXPERT_UP : Role.EXPERT_GATE, l, e), 0);
    }

    /** Expert {@code e}'s down projection [D, I_e] in layer {@code l}. */
    private Block expertOut(int l, int e) {
        long n = (long) c.features().experts().width() * c.hiddenSize();
        if (arch.fusedExperts()) {
            return new Block(arch.tensorName(Role.EXPERTS_DOWN, l), e * n);
        }
        return new Block(arch.tensorName(Role.EXPERT_DOWN, l, e), 0);
    }

    /** Routed expert {@code e} of sparse layer {@code l}, in arrays of its own. */
    ExpertWeights expert(int l, int e) {
        Block gate = expertIn(l, e, false);
        Block up = expertIn(l, e, true);
        Block down = expertOut(l, e);
        return ffn(c.features().experts().width(), gate, up, down);
    }

    /** The shared expert of sparse layer {@code l} (Qwen2-MoE). */
    private ExpertWeights shared(int l) {
        return ffn(c.features().experts().sharedWidth(), new Block(arch.tensorName(Role.SHARED_GATE, l), 0),
                new Block(arch.tensorName(Role.SHARED_UP, l), 0), new Block(arch.tensorName(Role.SHARED_DOWN, l), 0));
    }

    /**
     * A SwiGLU FFN of {@code width} neurons from its gate and up rows [width, D] and its down
     * projection [D, width], the latter viewed transposed as value vectors [width, D].
     */
    private ExpertWeights ffn(long width, Block gate, Block up, Block down) {
        long d = c.hiddenSize();
        long n = width * d;
        MemorySegment in = wd.memory().allocate(4 * 2 * n, 64);
        src.read(gate.name(), gate.offset(), n, in.asSlice(0, 4 * n));
        src.read(up.name(), up.offset(), n, in.asSlice(4 * n, 4 * n));
        MemorySegment out = wd.memory().allocate(4 * n, 64);
        src.read(down.name(), down.offset(), n, out);
        return new ExpertWeights(finish(alias(in, 2 * width, d)), finish(alias(out, d, width).transpose()));
    }

    /**
     * Reads a [D, cols] matrix (elements from {@code offset} of tensor {@code name}) into columns
     * {@code at …} of the [D, W] matrix {@code out}.
     */
    private void readColumns(String name, long offset, long cols, long at, MemorySegment out) {
        long d = c.hiddenSize();
        long width = c.features().experts().neurons();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment m = scratch.allocate(4 * d * cols, 64);
            src.read(name, offset, d * cols, m);
            for (long row = 0; row < d; row++) {
                MemorySegment.copy(m, 4 * row * cols, out, 4 * (row * width + at), 4 * cols);
            }
        }
    }

    /**
     * A sparse layer's value vectors as one FFN [W, D]: row e·I_e + j is column j of expert e's
     * down projection, the shared expert's columns last.
     */
    NDArray expertValues(int l) {
        org.neurotome.arch.Experts x = c.features().experts();
        long d = c.hiddenSize();
        MemorySegment out = wd.memory().allocate(4 * x.neurons() * d, 64);     // [D, W], viewed transposed
        if (x.sharedWidth() > 0) {
            readColumns(arch.tensorName(Role.SHARED_DOWN, l), 0, x.sharedWidth(), (long) x.count() * x.width(), out);
        }
        for (int e = 0; e < x.count(); e++) {
            Block b = expertOut(l, e);
            readColumns(b.name(), b.offset(), x.width(), (long) e * x.width(), out);
        }
        return finish(alias(out, d, x.neurons()).transpose());
    }
}
