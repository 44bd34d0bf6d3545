package org.neurotome.eval;

import java.util.Objects;

/** The identity of an evaluated model as a report records it: how it was named, and the SHA-256 of its weights. */
public record ModelInfo(String name, String sha256) {

    public ModelInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(sha256, "sha256");
    }
}
