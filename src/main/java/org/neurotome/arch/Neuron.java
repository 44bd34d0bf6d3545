package org.neurotome.arch;

import org.neurotome.NeurotomeException;

/**
 * FFN neuron {@code neuron} of layer {@code layer} (column {@code neuron} of the down
 * projection), both 0-indexed; written {@code 28.3696} (the paper's 28_3696).
 */
public record Neuron(int layer, int neuron) implements Comparable<Neuron> {

    /** Parses {@code L.K}; a malformed value is a BAD_INPUT error naming it. */
    public static Neuron parse(String text) {
        int[] p = pair(text, "neuron", "LAYER.NEURON, e.g. 28.3696");
        return new Neuron(p[0], p[1]);
    }

    static int[] pair(String text, String what, String allowed) {
        String t = text.trim().replace('_', '.');
        int dot = t.indexOf('.');
        try {
            if (dot > 0 && dot == t.lastIndexOf('.')) {
                int a = Integer.parseInt(t.substring(0, dot));
                int b = Integer.parseInt(t.substring(dot + 1));
                if (a >= 0 && b >= 0) {
                    return new int[] {a, b};
                }
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw NeurotomeException.badInput("bad " + what + " '" + text + "'; expected " + allowed);
    }

    @Override
    public int compareTo(Neuron o) {
        return layer != o.layer ? Integer.compare(layer, o.layer) : Integer.compare(neuron, o.neuron);
    }

    @Override
    public String toString() {
        return layer + "." + neuron;
    }

    /** Checks the neuron exists in a model of this shape. */
    public Neuron check(ModelConfig c) {
        if (layer < 0 || layer >= c.numLayers() || neuron < 0 || neuron >= c.ffnWidth(layer)) {
            throw NeurotomeException.badInput("neuron " + this + " does not exist: the model has layers 0.."
                    + (c.numLayers() - 1) + " and neurons 0.." + (c.ffnWidth(Math.clamp(layer, 0, c.numLayers() - 1)) - 1)
                    + (layer >= 0 && layer < c.numLayers() ? " in layer " + layer : ""));
        }
        return this;
    }
}
