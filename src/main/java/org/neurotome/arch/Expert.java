package org.neurotome.arch;

import org.neurotome.NeurotomeException;

/**
 * Routed expert {@code expert} of sparse layer {@code layer}, both 0-indexed; written
 * {@code 1.5} or {@code {layer: 1, expert: 5}} (the experts of a mixture-of-experts FFN block,
 * transformers' {@code modeling_mixtral.py} {@code experts[e]}).
 */
public record Expert(int layer, int expert) implements Comparable<Expert> {

    @Override
    public int compareTo(Expert o) {
        return layer != o.layer ? Integer.compare(layer, o.layer) : Integer.compare(expert, o.expert);
    }

    @Override
    public String toString() {
        return layer + "." + expert;
    }

    /** Checks the expert exists in a model of this shape: a sparse layer and an expert index below its count. */
    public Expert check(ModelConfig c) {
        Experts x = c.features().experts();
        if (x.count() == 0) {
            throw NeurotomeException.badInput("expert " + this + " does not exist: this " + c.modelType()
                    + " model has no experts");
        }
        if (layer < 0 || layer >= c.numLayers() || !c.sparseLayer(layer)) {
            throw NeurotomeException.badInput("expert " + this + " does not exist: layer " + layer + " is not a sparse"
                    + " layer; the model's sparse layers are " + sparseLayers(c));
        }
        if (expert < 0 || expert >= x.count()) {
            throw NeurotomeException.badInput("expert " + this + " does not exist: layer " + layer + " has experts 0.."
                    + (x.count() - 1));
        }
        return this;
    }

    /** The sparse layers of {@code c}, for messages, e.g. {@code [0, 2]}. */
    public static java.util.List<Integer> sparseLayers(ModelConfig c) {
        return java.util.stream.IntStream.range(0, c.numLayers()).filter(c::sparseLayer).boxed().toList();
    }
}
