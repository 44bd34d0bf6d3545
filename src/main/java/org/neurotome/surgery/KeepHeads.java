package org.neurotome.surgery;

import org.neurotome.arch.LayerRange;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** {@code keep-heads}: zeroes every head in a layer range except the listed ones (docs/method.md A5). */
public final class KeepHeads extends ComponentEdit<Head> {
    private final LayerRange layers;

    public KeepHeads(List<Head> keep, LayerRange layers) {
        super("keep-heads", "heads", keep);
        this.layers = layers;
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        LayerRange range = layers != null ? layers.check(ctx.config()) : LayerRange.all(ctx.config());
        int last = range.lastFor(ctx.config().numLayers());
        Set<Head> kept = new TreeSet<>();
        for (Head h : components) {
            kept.add(h.check(ctx.config()));
        }
        if (kept.stream().noneMatch(h -> range.contains(h.layer()))) {
            throw NeurotomeException.badInput("keep-heads: none of its " + kept.size() + " heads (" + kept
                    + ") lies in layers " + range + ", so every head there would be zeroed; choose heads in those"
                    + " layers (a select with layers: " + range + ")");
        }
        List<Head> zero = new ArrayList<>();
        for (int l = range.first(); l <= last; l++) {
            for (int h = 0; h < ctx.config().numHeads(); h++) {
                if (!kept.contains(new Head(l, h))) {
                    zero.add(new Head(l, h));
                }
            }
        }
        return new ZeroHeads(zero).lower(ctx);
    }

    @Override
    public ObjectNode describe() {
        ObjectNode n = super.describe();
        if (layers != null) {
            n.put("layers", layers.toString());
        }
        return n;
    }
}
