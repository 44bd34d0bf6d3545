package org.neurotome.model;

import ai.djl.ndarray.NDManager;

import java.lang.foreign.Arena;
import java.lang.foreign.SegmentAllocator;

/**
 * Where widened arrays live: NDArrays in {@code manager} over native memory from
 * {@code memory}; closing closes the arrays, then {@code release} gives the memory back.
 */
record Widening(NDManager manager, SegmentAllocator memory, Runnable release) implements AutoCloseable {
    /** Arrays over fresh memory of their own, freed on close. */
    static Widening fresh(NDManager manager) {
        Arena arena = Arena.ofShared();
        return new Widening(manager, arena, arena::close);
    }

    @Override
    public void close() {
        manager.close();
        release.run();
    }
}
