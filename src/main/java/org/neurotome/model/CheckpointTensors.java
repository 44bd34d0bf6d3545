package org.neurotome.model;

import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.arch.RuntimeLayout;
import org.neurotome.arch.WeightLayout;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Kept weights written back as the checkpoint tensors of their family: the family's own names,
 * shapes and orientation ({@code Conv1D} [in, out] for GPT-2, {@code nn.Linear} [out, in]
 * otherwise), the runtime's fused qkv and gate/up arrays split back into the stored tensors with
 * their rows in stored order (the inverse of {@link RuntimeLayout#qkvRowOrder}). The
 * checkpoint writer takes the result; this is how a trained fixture model is saved.
 */
public final class CheckpointTensors {
    private record Target(Role role, int layer, int expert) {
    }

    private final Weights weights;
    private final ModelConfig config;
    private final Architecture arch;
    private final Map<String, Target> byName = new LinkedHashMap<>();

    private CheckpointTensors(Weights weights) {
        this.weights = weights;
        this.config = weights.config();
        this.arch = weights.architecture();
        for (Role r : arch.roles(config)) {
            if (!r.perLayer()) {
                byName.put(arch.tensorName(r), new Target(r, -1, -1));
            }
        }
        for (int l = 0; l < config.numLayers(); l++) {
            for (Architecture.LayerTensor t : arch.layerTensors(config, l)) {
                byName.put(t.name(), new Target(t.role(), l, t.expert()));
            }
        }
    }

    /**
     * {@code weights} as checkpoint tensors stored as {@code dtype}; values are read from the
     * arrays (the embeddings from the source when no table is kept) when the writer reaches each
     * tensor. Kept weights only.
     */
    public static List<OutputTensor> of(Weights weights, DType dtype) {
        if (weights.streaming()) {
            throw new IllegalStateException("streamed weights keep no layer to write back");
        }
        CheckpointTensors ct = new CheckpointTensors(weights);
        List<OutputTensor> out = new ArrayList<>();
        for (String name : ct.arch.tensorNames(ct.config)) {
            Target t = ct.byName.get(name);
            out.add(OutputTensor.ofLazyFloats(name, dtype, ct.arch.shape(t.role, ct.config),
                    () -> ct.values(t.role, t.layer, t.expert)));
        }
        return out;
    }

    /** A model-level tensor read from the source as it is stored. */
    private float[] fromSource(Role r) {
        int n = Math.toIntExact(Weights.numel(arch.shape(r, config)));
        float[] v = new float[n];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(4L * n, 64);
            weights.source().read(arch.tensorName(r), 0, n, seg);
            MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, v, 0, n);
        }
        return v;
    }

    /** A [out, in] runtime matrix in the checkpoint's orientation. */
    private float[] fromReader(float[] v, int out, int in) {
        return arch.weightLayout() == WeightLayout.LINEAR ? v : RuntimeLayout.transpose(v, out, in);
    }

    /** A [in, out] runtime matrix in the checkpoint's orientation. */
    private float[] fromWriter(float[] v, int in, int out) {
        return arch.weightLayout() == WeightLayout.CONV1D ? v : RuntimeLayout.transpose(v, in, out);
    }

    /** The runtime's qkv rows (or biases) of layer {@code l}, in the checkpoint's row order. */
    private float[] qkvRows(LayerWeights w, boolean bias) {
        float[] v = (bias ? w.qkvBias() : w.qkv()).toFloatArray();
        int[] perm = RuntimeLayout.qkvRowOrder(config, arch);
        return perm == null ? v : RuntimeLayout.permuteRows(v, bias ? 1 : config.hiddenSize(), perm, true);
    }

    private static float[] slice(float[] a, int from, int length) {
        float[] out = new float[length];
        System.arraycopy(a, from, out, 0, length);
        return out;
    }

    private float[] values(Role r, int l, int expert) {
        if (!r.perLayer()) {
            return modelValues(r);
        }
        try (Weights.Lease<LayerWeights> lease = weights.layer(l)) {
            return r.sparse() ? expertValues(r, expert, lease.get()) : layerValues(r, lease.get());
        }
    }

    /**
     * A sparse layer's tensor of {@code r} (of expert {@code e} where the role is per expert),
     * from the runtime's arrays of each expert (see {@link LayerWeights}).
     */
    private float[] expertValues(Role r, int e, LayerWeights w) {
        org.neurotome.arch.Experts x = config.features().experts();
        int d = config.hiddenSize();
        int ie = x.width();
        return switch (r) {
            case ROUTER -> w.router().toFloatArray();
            case SHARED_EXPERT_GATE -> w.sharedGate().toFloatArray();
            case EXPERT_GATE, EXPERT_UP, EXPERT_DOWN -> {
                float[][] out = new float[1][];
                w.experts().visit(List.of(e), (ew, k) -> out[0] = expertTensor(r, ew, ie));
                yield out[0];
            }
            case SHARED_GATE -> expertTensor(Role.EXPERT_GATE, w.sharedExpert(), x.sharedWidth());
            case SHARED_UP -> expertTensor(Role.EXPERT_UP, w.sharedExpert(), x.sharedWidth());
            case SHARED_DOWN -> expertTensor(Role.EXPERT_DOWN, w.sharedExpert(), x.sharedWidth());
            case EXPERTS_GATE_UP, EXPERTS_DOWN -> {
                int n = ie * d;
                int per = r == Role.EXPERTS_GATE_UP ? 2 * n : n;
                float[] out = new float[x.count() * per];
                w.experts().visit(java.util.stream.IntStream.range(0, x.count()).boxed().toList(), (ew, k) -> {
                    if (r == Role.EXPERTS_GATE_UP) {
                        System.arraycopy(ew.in().toFloatArray(), 0, out, k * per, per);
                    } else {
                        System.arraycopy(expertTensor(Role.EXPERT_DOWN, ew, ie), 0, out, k * per, per);
                    }
                });
                yield out;
            }
            default -> throw new IllegalArgumentException(r + " is no role of a sparse layer");
        };
    }

    /** An expert's gate [I, D], up [I, D] or down projection [D, I] as stored, from its arrays of {@code width} neurons. */
    private float[] expertTensor(Role r, ExpertWeights w, int width) {
        int d = config.hiddenSize();
        return switch (r) {
            case EXPERT_GATE -> slice(w.in().toFloatArray(), 0, width * d);
            case EXPERT_UP -> slice(w.in().toFloatArray(), width * d, width * d);
            case EXPERT_DOWN -> fromWriter(w.out().toFloatArray(), width, d);
            default -> throw new IllegalArgumentException(r + " is no expert role");
        };
    }

    private float[] modelValues(Role r) {
        return switch (r) {
            case EMBED -> weights.embedTable() != null ? weights.embedTable().toFloatArray() : fromSource(r);
            case POS_EMBED -> weights.posEmbed().toFloatArray();
            case LN_F -> weights.finalNormWeight().toFloatArray();
            case LN_F_BIAS -> weights.finalNormBias().toFloatArray();
            case LM_HEAD -> weights.embedTable() != null ? weights.unembed().toFloatArray() : fromSource(r);
            case LM_HEAD_BIAS -> weights.unembedBias().toFloatArray();
            default -> throw new IllegalArgumentException(r + " is a layer role");
        };
    }

    private float[] layerValues(Role r, LayerWeights w) {
        int d = config.hiddenSize();
        int hd = config.headDim();
        int qRows = config.numHeads() * hd;
        int kvRows = config.numKvHeads() * hd;
        int ffn = config.ffnSize();
        return switch (r) {
            case LN1 -> w.ln1().toFloatArray();
            case LN1_BIAS -> w.ln1Bias().toFloatArray();
            case LN2 -> w.ln2().toFloatArray();
            case LN2_BIAS -> w.ln2Bias().toFloatArray();
            case QKV -> fromReader(qkvRows(w, false), qRows + 2 * kvRows, d);
            case QKV_BIAS -> qkvRows(w, true);
            case Q -> fromReader(slice(qkvRows(w, false), 0, qRows * d), qRows, d);
            case K -> fromReader(slice(qkvRows(w, false), qRows * d, kvRows * d), kvRows, d);
            case V -> fromReader(slice(qkvRows(w, false), (qRows + kvRows) * d, kvRows * d), kvRows, d);
            case Q_BIAS -> slice(qkvRows(w, true), 0, qRows);
            case K_BIAS -> slice(qkvRows(w, true), qRows, kvRows);
            case V_BIAS -> slice(qkvRows(w, true), qRows + kvRows, kvRows);
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
            default -> throw new IllegalArgumentException(r + " is a model-level role");
        };
    }
}
