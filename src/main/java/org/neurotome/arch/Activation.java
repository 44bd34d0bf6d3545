package org.neurotome.arch;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The FFN activations neurotome computes, named as transformers' {@code ACT2FN}
 * (transformers/activations.py) names them in {@code hidden_act} / {@code activation_function}.
 */
public enum Activation {
    /** Tanh approximation {@code 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))} (GPT-2, GPT-J). */
    GELU_NEW("gelu_new", "gelu_pytorch_tanh"),
    /** Exact {@code 0.5x(1 + erf(x/√2))}. */
    GELU("gelu"),
    /** {@code x·sigmoid(x)} (Llama family, gated). */
    SILU("silu", "swish"),
    RELU("relu");

    private final String[] names;

    Activation(String... names) {
        this.names = names;
    }

    /** The name transformers uses for this activation. */
    public String configName() {
        return names[0];
    }

    /** The activation transformers calls {@code name}, or null when neurotome does not compute it. */
    public static Activation ofConfigName(String name) {
        for (Activation a : values()) {
            if (Arrays.asList(a.names).contains(name)) {
                return a;
            }
        }
        return null;
    }

    public static String allowed() {
        return Arrays.stream(values()).flatMap(a -> Arrays.stream(a.names)).collect(Collectors.joining(", "));
    }
}
