package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.TensorSlice;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * {@code scale-neurons}: multiplies FFN neurons' outputs by a factor (docs/method.md A5) by
 * scaling their value vectors, which is exactly the runtime's neuron-scale intervention
 * (m_k · factor · down[:, k]).
 */
public final class ScaleNeurons implements Edit {
    private final List<Neuron> neurons;
    private final float factor;

    public ScaleNeurons(List<Neuron> neurons, float factor) {
        if (!Float.isFinite(factor)) {
            throw NeurotomeException.badInput("scale-neurons factor must be a finite number, got " + factor);
        }
        this.neurons = List.copyOf(new TreeSet<>(neurons));
        this.factor = factor;
    }

    @Override
    public String op() {
        return "scale-neurons";
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        List<TensorSlice> slices = new ArrayList<>();
        for (Neuron n : neurons) {
            n.check(ctx.config());
            slices.add(ctx.neurons().valueSlice(n.layer(), n.neuron()));
        }
        if (factor == 0f) {
            ctx.zeroedNeurons().addAll(neurons);
        }
        return EditContext.scale(slices, factor);
    }

    @Override
    public ObjectNode describe() {
        ObjectNode n = Json.MAPPER.createObjectNode().put("op", op()).put("factor", factor);
        neurons.forEach(x -> n.withArray("neurons").add(x.toString()));
        return n;
    }
}
