package org.neurotome.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The native memory streamed layers are widened into, allocated once and reused lease after
 * lease (no allocation, zeroing or page faults per layer): one buffer, or two so the next
 * layer can be widened while one runs.
 */
final class LayerBuffers implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final int count;
    private final java.util.concurrent.ConcurrentLinkedQueue<MemorySegment> free =
            new java.util.concurrent.ConcurrentLinkedQueue<>();

    LayerBuffers(int count, long bytes) {
        this.count = count;
        for (int i = 0; i < count; i++) {
            free.add(arena.allocate(bytes, 64));
        }
    }

    int count() {
        return count;
    }

    /** A free buffer, or null when all are leased. */
    MemorySegment poll() {
        return free.poll();
    }

    void give(MemorySegment buffer) {
        free.add(buffer);
    }

    @Override
    public void close() {
        arena.close();
    }
}
