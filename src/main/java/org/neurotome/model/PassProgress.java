package org.neurotome.model;

/**
 * Where a streamed forward pass stands: told after each layer, {@code done} of {@code total}
 * layers (a pass over a 7B model read from disk takes long enough to want a progress line).
 */
@FunctionalInterface
public interface PassProgress {
    /** Reports nothing. */
    PassProgress NONE = (done, total) -> { };

    void layers(int done, int total);
}
