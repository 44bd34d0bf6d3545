package org.neurotome.recipe;

import org.neurotome.yaml.SchemaViolation;

/**
 * Attention head {@code head} of layer {@code layer}, both 0-based; written {@code 17.22}
 * (the paper's 17^22, METHOD notation l_h).
 */
public record HeadId(int layer, int head) implements Comparable<HeadId> {
    public HeadId {
        if (layer < 0 || head < 0) {
            throw SchemaViolation.of("invalid head").gotText(layer + "." + head).allowed("layer and head >= 0");
        }
    }

    @Override
    public int compareTo(HeadId o) {
        return layer != o.layer ? Integer.compare(layer, o.layer) : Integer.compare(head, o.head);
    }

    @Override
    public String toString() {
        return layer + "." + head;
    }
}
