package org.neurotome.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import org.neurotome.arch.Role;
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
 * become W + scale·B·A ({@link Weights#withDeltas}, placed into the runtime's fused qkv and
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
        return weights.withDeltas(lw, deltas);
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
