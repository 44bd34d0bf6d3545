package org.neurotome.surgery;

import org.neurotome.arch.Head;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.TensorSlice;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * {@code zero-heads}: silences attention heads (docs/method.md A5; the paper's §3.2 zeroes
 * {@code o_proj.weight[:, h·hd:(h+1)·hd]}). Zeroes each head's output-projection inputs and
 * its query rows, and a key/value head's rows only once every query head that reads it is
 * zeroed, so no GQA group another head still uses is broken. Where q/k norms act on the whole
 * q and k projections (OLMo 2, OLMoE), query and key rows stay: zeroing them would change the
 * norm every other head sees.
 */
public final class ZeroHeads extends ComponentEdit<Head> {

    public ZeroHeads(List<Head> heads) {
        super("zero-heads", "heads", heads);
    }

    public List<Head> heads() {
        return components;
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        HeadLayout layout = ctx.heads();
        boolean wholeNorms = ctx.arch().qkNormWhole();
        List<TensorSlice> slices = new ArrayList<>();
        for (Head h : components) {
            h.check(ctx.config());
            slices.addAll(layout.outputSlices(h.layer(), h.head()));
            if (!wholeNorms) {
                slices.addAll(layout.querySlices(h.layer(), h.head()));
            }
        }
        ctx.zeroedHeads().addAll(components);
        TreeSet<Head> kvDone = new TreeSet<>();
        for (Head h : components) {
            int kv = layout.kvHead(h.head());
            Head group = new Head(h.layer(), kv);
            if (kvDone.add(group) && allZeroed(ctx, h.layer(), layout.queryHeads(kv))) {
                if (!wholeNorms) {
                    slices.addAll(layout.keySlices(h.layer(), kv));
                }
                slices.addAll(layout.valueSlices(h.layer(), kv));
            }
        }
        return EditContext.scale(slices, 0f);
    }

    private static boolean allZeroed(EditContext ctx, int layer, int[] queryHeads) {
        for (int q : queryHeads) {
            if (!ctx.zeroedHeads().contains(new Head(layer, q))) {
                return false;
            }
        }
        return true;
    }
}
