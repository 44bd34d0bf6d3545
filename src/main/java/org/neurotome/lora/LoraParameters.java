package org.neurotome.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.arch.RuntimeLayout;
import org.neurotome.model.LayerWeights;
import org.neurotome.model.Transformer;
import org.neurotome.model.Weights;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A LoRA being trained: each module's A [r, in] and B [out, r] as DJL arrays that take
 * gradients, over frozen base weights. For each forward pass every adapted layer's weights
 * become W + scale·B·A ({@link #withDeltas}, placed into the runtime's fused qkv and
 * gate/up rows), computed in the pass's graph, so a backward pass reaches A and B and never
 * W. Scales are 0-d arrays made once (a Java float scalar would be freed before autograd
 * reads it).
 */
public final class LoraParameters implements AutoCloseable {
    private final NDManager manager;
    private final Weights weights;
    private final List<Entry> entries = new ArrayList<>();

    private record Entry(LoraModule module, NDArray a, NDArray b, NDArray scale) {
    }

    /** Trainable copies of {@code modules} for a model with weights {@code weights}, in a sub-manager of theirs. */
    public LoraParameters(Weights weights, List<LoraModule> modules) {
        this.weights = weights;
        this.manager = weights.manager().newSubManager();
        for (LoraModule m : modules) {
            NDArray a = owned(manager.create(m.a(), new Shape(m.rank(), m.in())));
            NDArray b = owned(manager.create(m.b(), new Shape(m.out(), m.rank())));
            NDArray s = manager.full(new Shape(), (float) m.scale());
            NDScope.unregister(a, b, s);
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            entries.add(new Entry(m, a, b, s));
        }
    }

    /** A copy libtorch owns of an array over Java memory, which the optimiser updates in place. */
    private static NDArray owned(NDArray javaBacked) {
        NDArray copy = javaBacked.duplicate();
        javaBacked.close();
        return copy;
    }

    /** Every trainable array by name ({@code <module>.lora_A}, {@code <module>.lora_B}), for the optimiser. */
    public Map<String, NDArray> arrays() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Entry e : entries) {
            out.put(e.module.module() + ".lora_A", e.a);
            out.put(e.module.module() + ".lora_B", e.b);
        }
        return out;
    }

    /** The number of trained values. */
    public long count() {
        return entries.stream().mapToLong(e -> e.module.parameters()).sum();
    }

    /** A forward pass over the base weights with this LoRA added in every layer it adapts. */
    public Transformer transformer() {
        return new Transformer(weights, this::apply);
    }

    /** Layer {@code layer}'s weights {@code lw} plus this LoRA's deltas there, in the caller's graph. */
    public LayerWeights apply(int layer, LayerWeights lw) {
        Map<Role, NDArray> deltas = new EnumMap<>(Role.class);
        for (Entry e : entries) {
            if (e.module.layer() == layer) {
                deltas.put(e.module.role(), e.b.matMul(e.a).mul(e.scale));               // [out, in]
            }
        }
        return withDeltas(lw, deltas);
    }

    /**
     * {@code w} (layer weights of the base model) with {@code deltas} added, each given per
     * projection role in {@code nn.Linear} orientation [out, in] (what PEFT's
     * {@code scale·B·A} is) and placed where the runtime keeps that projection: q/k/v (or the
     * fused qkv) rows of {@link LayerWeights#qkv} in its row order, gate/up rows of
     * {@link LayerWeights#ffnIn}, and, transposed, {@link LayerWeights#o} and
     * {@link LayerWeights#ffnOut}. The sums are new arrays in the deltas' graph, so gradients
     * reach whatever the deltas were computed from while W stays as it is (LoRA training).
     */
    private LayerWeights withDeltas(LayerWeights w, Map<Role, NDArray> deltas) {
        if (deltas.isEmpty()) {
            return w;
        }
        ModelConfig config = weights.config();
        Architecture arch = weights.architecture();
        int hd = config.headDim();
        long qRows = (long) config.numHeads() * hd;
        long kvRows = (long) config.numKvHeads() * hd;
        long ffn = config.ffnSize();
        NDArray qkv = w.qkv();
        NDArray qkvDelta = arch.fusedQkv() ? deltas.get(Role.QKV)
                : stack(deltas, new Role[] {Role.Q, Role.K, Role.V}, new long[] {qRows, kvRows, kvRows}, config);
        if (qkvDelta != null) {
            int[] perm = RuntimeLayout.qkvRowOrder(config, arch);
            if (perm != null) {
                long[] idx = new long[perm.length];
                for (int j = 0; j < perm.length; j++) {
                    idx[j] = perm[j];
                }
                qkvDelta = qkvDelta.get(owned(qkvDelta.getManager().create(idx)));
            }
            qkv = qkv.add(qkvDelta);
        }
        NDArray ffnIn = w.ffnIn();
        NDArray ffnInDelta = arch.fusedGateUp() ? deltas.get(Role.GATE_UP)
                : arch.gatedMlp() ? stack(deltas, new Role[] {Role.GATE, Role.UP}, new long[] {ffn, ffn}, config)
                : deltas.get(Role.UP);
        if (ffnInDelta != null) {
            ffnIn = ffnIn.add(ffnInDelta);
        }
        NDArray o = deltas.containsKey(Role.O) ? w.o().add(deltas.get(Role.O).transpose()) : w.o();
        NDArray ffnOut = deltas.containsKey(Role.DOWN) ? w.ffnOut().add(deltas.get(Role.DOWN).transpose()) : w.ffnOut();
        return new LayerWeights(w.ln1(), w.ln1Bias(), qkv, w.qkvBias(), o, w.oBias(), w.ln2(), w.ln2Bias(), ffnIn,
                w.ffnInBias(), ffnOut, w.ffnOutBias(), w.qNorm(), w.kNorm(), w.ln1Post(), w.ln2Post(), w.router(),
                w.sharedGate(), w.experts(), w.sharedExpert());
    }

    /** The deltas of {@code roles} stacked along their rows, zeros for those absent; null when all are absent. */
    private static NDArray stack(Map<Role, NDArray> deltas, Role[] roles, long[] rows, ModelConfig config) {
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

    /** The modules with their current A and B. */
    public List<LoraModule> modules() {
        List<LoraModule> out = new ArrayList<>();
        for (Entry e : entries) {
            LoraModule m = e.module;
            out.add(new LoraModule(m.module(), m.role(), m.layer(), m.tensor(), m.rank(), m.alpha(), m.scale(), m.out(),
                    m.in(), e.a.toFloatArray(), e.b.toFloatArray()));
        }
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }
}
