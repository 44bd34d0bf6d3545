package org.neurotome.recipe;

import org.neurotome.surgery.Compact;
import org.neurotome.surgery.KeepHeads;
import org.neurotome.surgery.KeepNeurons;
import org.neurotome.surgery.MergeLora;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.surgery.PruneExperts;
import org.neurotome.surgery.ScaleNeurons;
import org.neurotome.surgery.ZeroExperts;
import org.neurotome.surgery.ZeroHeads;
import org.neurotome.surgery.ZeroNeurons;

import java.util.Map;

/** Turns a recipe's edit records, with their {@code ${id}}s resolved, into surgery edits (docs/method.md A5; merge-lora). */
final class EditBuilder {
    private EditBuilder() {
    }

    static org.neurotome.surgery.Edit build(Edit e, Map<String, Selection> selections) {
        return switch (e) {
            case Edit.ZeroHeads z -> new ZeroHeads(Selection.heads(z.heads(), selections));
            case Edit.KeepHeads k -> new KeepHeads(Selection.heads(k.heads(), selections), k.layers());
            case Edit.ZeroNeurons z -> new ZeroNeurons(Selection.neurons(z.neurons(), selections));
            case Edit.ScaleNeurons s -> new ScaleNeurons(Selection.neurons(s.neurons(), selections), s.factor().floatValue());
            case Edit.KeepNeurons k -> new KeepNeurons(Selection.neurons(k.neurons(), selections), k.layers());
            case Edit.ZeroExperts z -> new ZeroExperts(Selection.experts(z.experts(), selections));
            case Edit.PruneExperts p -> new PruneExperts(Selection.experts(p.experts(), selections));
            case Edit.Compact c -> new Compact(c.remove().contains(ComponentKind.NEURONS),
                    c.remove().contains(ComponentKind.HEADS), c.pad());
            case Edit.MergeLora m -> new MergeLora(LoraAdapter.read(m.adapter()), m.scale());
        };
    }
}
