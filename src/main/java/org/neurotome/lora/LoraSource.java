package org.neurotome.lora;

import org.neurotome.arch.WeightLayout;
import org.neurotome.model.TensorSource;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's tensors read through a LoRA adapter (docs/architecture.md "Weights are a view"): each
 * adapted tensor is read from the base source and its module's {@link LoraDelta} is added to
 * exactly the elements read, so a whole matrix, a block of rows or one row all come out as
 * W + scale·B·A would have stored them; every other tensor passes through unchanged.
 */
public final class LoraSource implements TensorSource {
    private final TensorSource base;
    private final Map<String, LoraDelta> deltas = new HashMap<>();

    /** {@code modules} of an adapter on tensors stored in {@code layout}, each delta multiplied by {@code factor}. */
    public LoraSource(TensorSource base, List<LoraModule> modules, WeightLayout layout, double factor) {
        this.base = base;
        for (LoraModule m : modules) {
            deltas.put(m.tensor(), LoraDelta.of(m, layout, factor));
        }
    }

    @Override
    public void read(String name, long offset, long count, MemorySegment dst) {
        base.read(name, offset, count, dst);
        LoraDelta d = deltas.get(name);
        if (d != null) {
            d.addTo(dst, offset, count);
        }
    }
}
