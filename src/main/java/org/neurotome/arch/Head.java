package org.neurotome.arch;

import org.neurotome.NeurotomeException;

/**
 * Attention head {@code head} of layer {@code layer}, both 0-indexed; written {@code 17.22}
 * (the paper's 17^22, docs/method.md notation).
 */
public record Head(int layer, int head) implements Comparable<Head> {

    /** Parses {@code L.H}; a malformed value is a BAD_INPUT error naming it. */
    public static Head parse(String text) {
        int[] p = Neuron.pair(text, "head", "LAYER.HEAD, e.g. 17.22");
        return new Head(p[0], p[1]);
    }

    @Override
    public int compareTo(Head o) {
        return layer != o.layer ? Integer.compare(layer, o.layer) : Integer.compare(head, o.head);
    }

    @Override
    public String toString() {
        return layer + "." + head;
    }

    /** Checks the head exists in a model of this shape. */
    public Head check(ModelConfig c) {
        if (layer < 0 || layer >= c.numLayers() || head < 0 || head >= c.numHeads()) {
            throw NeurotomeException.badInput("head " + this + " does not exist: the model has layers 0.."
                    + (c.numLayers() - 1) + " and heads 0.." + (c.numHeads() - 1));
        }
        return this;
    }
}
