package org.neurotome.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Locale;

/**
 * The kinds of model components neurotome locates and edits: heads and FFN neurons (the notation
 * l_h, l_k of docs/method.md) and the routed experts of a mixture of experts (docs/findings.md).
 */
public enum ComponentKind {
    /** Attention heads, written {@code layer.head}: 17.22. */
    @JsonProperty("heads") HEADS,
    /** FFN neurons (columns of the down projection), written {@code layer.neuron}: 22.2651. */
    @JsonProperty("neurons") NEURONS,
    /** Routed experts of a sparse layer, written {@code layer.expert}: 1.5. */
    @JsonProperty("experts") EXPERTS;

    /** The name as written in a recipe. */
    public String yamlName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
