package org.neurotome.layering.ring.two;

import org.neurotome.layering.ring.one.First;

/** The other half of the layering test's deliberate package cycle. */
public final class Second {
    public First back() {
        return new First();
    }
}
