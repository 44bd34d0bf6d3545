package org.neurotome.surgery;

import org.neurotome.arch.Neuron;
import org.neurotome.arch.NeuronLayout;
import org.neurotome.arch.TensorSlice;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code zero-neurons}: silences FFN neurons (docs/method.md A5; the paper's §6.2 "set their
 * parameters to zero"). Zeroes the value vector (down-projection column) and the neuron's
 * up/gate rows and bias entries, so its coefficient m_k is exactly 0 (SiLU(0)·0 = GELU(0) = 0).
 */
public final class ZeroNeurons extends ComponentEdit<Neuron> {

    public ZeroNeurons(List<Neuron> neurons) {
        super("zero-neurons", "neurons", neurons);
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        NeuronLayout layout = ctx.neurons();
        List<TensorSlice> slices = new ArrayList<>();
        for (Neuron n : components) {
            n.check(ctx.config());
            slices.add(layout.valueSlice(n.layer(), n.neuron()));
            slices.addAll(layout.inputSlices(n.layer(), n.neuron()));
        }
        ctx.zeroedNeurons().addAll(components);
        return EditContext.scale(slices, 0f);
    }
}
