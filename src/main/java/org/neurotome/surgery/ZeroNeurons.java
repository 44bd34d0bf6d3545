package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.NeuronLayout;
import org.neurotome.arch.TensorSlice;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * {@code zero-neurons}: silences FFN neurons (docs/method.md A5; the paper's §6.2 "set their
 * parameters to zero"). Zeroes the value vector (down-projection column) and the neuron's
 * up/gate rows and bias entries, so its coefficient m_k is exactly 0 (SiLU(0)·0 = GELU(0) = 0).
 */
public final class ZeroNeurons implements Edit {
    private final List<Neuron> neurons;

    public ZeroNeurons(List<Neuron> neurons) {
        this.neurons = List.copyOf(new TreeSet<>(neurons));
    }

    @Override
    public String op() {
        return "zero-neurons";
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        NeuronLayout layout = ctx.neurons();
        List<TensorSlice> slices = new ArrayList<>();
        for (Neuron n : neurons) {
            n.check(ctx.config());
            slices.add(layout.valueSlice(n.layer(), n.neuron()));
            slices.addAll(layout.inputSlices(n.layer(), n.neuron()));
        }
        ctx.zeroedNeurons().addAll(neurons);
        return EditContext.scale(slices, 0f);
    }

    @Override
    public ObjectNode describe() {
        ObjectNode n = Json.MAPPER.createObjectNode().put("op", op());
        neurons.forEach(x -> n.withArray("neurons").add(x.toString()));
        return n;
    }
}
