package org.neurotome.arch;

import org.neurotome.NeurotomeException;

/**
 * An inclusive range of 0-based layers: {@code 17-31}, one layer {@code 17}, or open-ended
 * {@code 17-} (layer 17 to the model's last layer, which a recipe need not know).
 *
 * @param first the first layer
 * @param last  the last layer, or null for "to the last layer of the model"
 */
public record LayerRange(int first, Integer last) {
    public static final String SYNTAX = "first-last (e.g. 17-31), one layer (17), or first- (17 to the last layer)";

    public LayerRange {
        if (first < 0 || (last != null && last < first)) {
            throw NeurotomeException.badInput("invalid layer range " + first + "-" + (last == null ? "" : last)
                    + "; allowed: " + SYNTAX + ", with 0 <= first <= last");
        }
    }

    /** Every layer of a model of shape {@code c}. */
    public static LayerRange all(ModelConfig c) {
        return new LayerRange(0, c.numLayers() - 1);
    }

    /** Whether {@code layer} is in the range (an open range reaches every later layer). */
    public boolean contains(int layer) {
        return layer >= first && (last == null || layer <= last);
    }

    /** The last layer for a model with {@code numLayers} layers. */
    public int lastFor(int numLayers) {
        return last == null ? numLayers - 1 : last;
    }

    /** This range made concrete for a model of shape {@code c}; one past its last layer is a BAD_INPUT error. */
    public LayerRange check(ModelConfig c) {
        if (first >= c.numLayers() || (last != null && last >= c.numLayers())) {
            throw NeurotomeException.badInput("layer range " + this + " runs past the model's last layer "
                    + (c.numLayers() - 1));
        }
        return new LayerRange(first, lastFor(c.numLayers()));
    }

    @Override
    public String toString() {
        if (last == null) {
            return first + "-";
        }
        return first == last ? String.valueOf(first) : first + "-" + last;
    }
}
