package org.neurotome.recipe;

import org.neurotome.yaml.SchemaViolation;

/**
 * FFN neuron {@code neuron} of layer {@code layer} — column {@code neuron} of that layer's down
 * projection (METHOD notation l_k); both 0-based; written {@code 22.2651}.
 */
public record NeuronId(int layer, int neuron) implements Comparable<NeuronId> {
    public NeuronId {
        if (layer < 0 || neuron < 0) {
            throw SchemaViolation.of("invalid neuron").gotText(layer + "." + neuron).allowed("layer and neuron >= 0");
        }
    }

    @Override
    public int compareTo(NeuronId o) {
        return layer != o.layer ? Integer.compare(layer, o.layer) : Integer.compare(neuron, o.neuron);
    }

    @Override
    public String toString() {
        return layer + "." + neuron;
    }
}
