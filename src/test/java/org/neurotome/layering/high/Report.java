package org.neurotome.layering.high;

import org.neurotome.layering.low.Counter;

/** The upper layer of the layering test's fixture; depending on {@link Counter} is allowed. */
public record Report(Counter counter) {
    public String text() {
        return "count " + counter.count;
    }
}
