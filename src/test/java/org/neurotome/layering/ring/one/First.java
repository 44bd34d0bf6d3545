package org.neurotome.layering.ring.one;

import org.neurotome.layering.ring.two.Second;

/** Half of a deliberate package cycle (ring.one → ring.two → ring.one) for {@code LayeringTest}. */
public final class First {
    public Second next() {
        return new Second();
    }
}
