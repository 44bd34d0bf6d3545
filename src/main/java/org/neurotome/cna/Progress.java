package org.neurotome.cna;

/**
 * Where a long analysis stands, reported after each batch: {@code done} of {@code total}
 * units of {@code phase} (e.g. head ablations, scored positions).
 */
@FunctionalInterface
public interface Progress {
    /** Reports nothing. */
    Progress NONE = (phase, done, total) -> { };

    void update(String phase, long done, long total);
}
