package org.neurotome.surgery;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;

/** An inclusive range of layers, written {@code 17-31} (or a single layer {@code 5}). */
public record LayerRange(int from, int to) {

    public LayerRange {
        if (from < 0 || to < from) {
            throw NeurotomeException.badInput("bad layer range " + from + "-" + to + "; expected FROM-TO with 0 <= FROM <= TO");
        }
    }

    public static LayerRange parse(String text) {
        String t = text.trim();
        try {
            int dash = t.indexOf('-');
            return dash < 0 ? new LayerRange(Integer.parseInt(t), Integer.parseInt(t))
                    : new LayerRange(Integer.parseInt(t.substring(0, dash).trim()), Integer.parseInt(t.substring(dash + 1).trim()));
        } catch (NumberFormatException e) {
            throw NeurotomeException.badInput("bad layer range '" + text + "'; expected FROM-TO, e.g. 17-31");
        }
    }

    public static LayerRange all(ModelConfig c) {
        return new LayerRange(0, c.numLayers() - 1);
    }

    public boolean contains(int layer) {
        return layer >= from && layer <= to;
    }

    public LayerRange check(ModelConfig c) {
        if (to >= c.numLayers()) {
            throw NeurotomeException.badInput("layer range " + this + " runs past the model's last layer " + (c.numLayers() - 1));
        }
        return this;
    }

    @Override
    public String toString() {
        return from + "-" + to;
    }
}
