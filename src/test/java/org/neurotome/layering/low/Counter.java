package org.neurotome.layering.low;

import org.neurotome.layering.high.Report;

/**
 * A lower-layer class with a deliberate upward import, for {@code LayeringTest} to show that
 * its rule fails on one (nothing in the main code may do this).
 */
public final class Counter {
    public int count;

    /** The upward dependency: a low layer naming a class of the layer above it. */
    public String describe() {
        return new Report(this).text();
    }
}
