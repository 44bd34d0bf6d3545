package org.neurotome.surgery;

import org.neurotome.arch.LayerRange;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Neuron;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code keep-neurons}: the paper's §6.1 pruning — keep only the listed FFN neurons in a
 * layer range (17–31 for Llama-7B) and zero the rest (docs/method.md A5, part B §4.2).
 */
public final class KeepNeurons implements Edit {
    private final List<Neuron> keep;
    private final LayerRange layers;

    public KeepNeurons(List<Neuron> keep, LayerRange layers) {
        this.keep = List.copyOf(new TreeSet<>(keep));
        this.layers = layers;
    }

    @Override
    public String op() {
        return "keep-neurons";
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        LayerRange range = layers != null ? layers.check(ctx.config()) : LayerRange.all(ctx.config());
        int last = range.lastFor(ctx.config().numLayers());
        Set<Neuron> kept = new TreeSet<>();
        for (Neuron n : keep) {
            kept.add(n.check(ctx.config()));
        }
        if (kept.stream().noneMatch(n -> range.contains(n.layer()))) {
            throw NeurotomeException.badInput("keep-neurons: none of its " + kept.size() + " neurons lies in layers "
                    + range + ", so every neuron there would be zeroed; choose neurons in those layers (a select with"
                    + " layers: " + range + ")");
        }
        List<Neuron> zero = new ArrayList<>();
        for (int l = range.first(); l <= last; l++) {
            for (int k = 0; k < ctx.config().ffnWidth(l); k++) {
                if (!kept.contains(new Neuron(l, k))) {
                    zero.add(new Neuron(l, k));
                }
            }
        }
        return new ZeroNeurons(zero).lower(ctx);
    }

    @Override
    public ObjectNode describe() {
        ObjectNode n = Json.MAPPER.createObjectNode().put("op", op()).put("kept", keep.size());
        keep.forEach(x -> n.withArray("neurons").add(x.toString()));
        if (layers != null) {
            n.put("layers", layers.toString());
        }
        return n;
    }
}
