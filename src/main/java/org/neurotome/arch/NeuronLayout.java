package org.neurotome.arch;

import org.neurotome.NeurotomeException;

import java.util.ArrayList;
import java.util.List;

/**
 * Where FFN neuron k of a layer lives in the weights: its input rows (of the up/gate
 * projections and their biases; of Phi-3's fused {@code gate_up_proj}, rows k and
 * I + k) and its value vector, the column k of the down projection
 * (row k of GPT-2's Conv1D {@code c_proj.weight}) that its coefficient m_k multiplies; in a
 * sparse layer neuron e·I + j is row j of expert e's gate and up projections and column j of its
 * down projection (the shared expert's units last)
 * (Geva et al. 2021, "Transformer Feed-Forward Layers Are Key-Value Memories"; docs/method.md A1).
 */
public final class NeuronLayout {
    private final Architecture arch;
    private final ModelConfig config;
    private final HeadLayout axes;

    public NeuronLayout(Architecture arch, ModelConfig config) {
        this.arch = arch;
        this.config = config;
        this.axes = new HeadLayout(arch, config);
    }

    /** The slices computing neuron {@code k}'s activation: up (and gate) rows and bias entries. */
    public List<TensorSlice> inputSlices(int layer, int k) {
        check(layer, k);
        List<TensorSlice> s = new ArrayList<>();
        if (config.sparseLayer(layer)) {
            Unit u = unit(k);
            s.add(new TensorSlice(u.name(u.shared ? Role.SHARED_GATE : Role.EXPERT_GATE, layer), axes.outAxis(), u.j, 1));
            s.add(new TensorSlice(u.name(u.shared ? Role.SHARED_UP : Role.EXPERT_UP, layer), axes.outAxis(), u.j, 1));
            return s;
        }
        if (arch.fusedGateUp()) {
            String name = arch.tensorName(Role.GATE_UP, layer);
            s.add(new TensorSlice(name, axes.outAxis(), k, 1));
            s.add(new TensorSlice(name, axes.outAxis(), (long) config.ffnSize() + k, 1));
            return s;
        }
        for (Role[] wb : new Role[][] {{Role.UP, Role.UP_BIAS}, {Role.GATE, Role.GATE_BIAS}}) {
            if (arch.has(wb[0], config)) {
                s.add(new TensorSlice(arch.tensorName(wb[0], layer), axes.outAxis(), k, 1));
            }
            if (arch.has(wb[1], config)) {
                s.add(new TensorSlice(arch.tensorName(wb[1], layer), 0, k, 1));
            }
        }
        return s;
    }

    /** Neuron {@code k}'s value vector in the down projection. */
    public TensorSlice valueSlice(int layer, int k) {
        check(layer, k);
        if (config.sparseLayer(layer)) {
            Unit u = unit(k);
            return new TensorSlice(u.name(u.shared ? Role.SHARED_DOWN : Role.EXPERT_DOWN, layer), axes.inAxis(), u.j, 1);
        }
        return new TensorSlice(arch.tensorName(Role.DOWN, layer), axes.inAxis(), k, 1);
    }

    /** Neuron k of a sparse layer: unit {@code j} of expert {@code expert}, or of the shared expert. */
    private record Unit(int expert, int j, boolean shared, Architecture arch) {
        String name(Role role, int layer) {
            return shared ? arch.tensorName(role, layer) : arch.tensorName(role, layer, expert);
        }
    }

    private Unit unit(int k) {
        Experts x = config.features().experts();
        int routed = x.count() * x.width();
        return k < routed ? new Unit(k / x.width(), k % x.width(), false, arch)
                : new Unit(-1, k - routed, true, arch);
    }

    private void check(int layer, int k) {
        if (config.sparseLayer(layer) && arch.fusedExperts()) {
            throw NeurotomeException.badInput("layer " + layer + " of this " + config.modelType() + " checkpoint fuses its"
                    + " experts into one tensor per layer ('" + arch.tensorName(Role.EXPERTS_GATE_UP, layer)
                    + "'), whose units neuron edits do not reach; the per-expert form can be edited");
        }
        if (k < 0 || k >= config.ffnWidth(layer)) {
            throw new IllegalArgumentException("neuron " + k + " out of range 0.." + (config.ffnWidth(layer) - 1));
        }
    }
}
