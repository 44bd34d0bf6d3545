package org.neurotome.surgery;

import org.neurotome.arch.Expert;
import org.neurotome.arch.Experts;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.Role;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code zero-experts}: silences routed experts while keeping the expert count and the router
 * (docs/recipes.md; transformers' {@code MixtralSparseMoeBlock}: the layer output is
 * {@code Σ_e routing_weight_e · expert_e(x)}). Every unit of the expert is zeroed as
 * {@code zero-neurons} does (gate and up rows, down columns), so its output is exactly 0, while
 * the router still selects it and its routing weight still takes its share of the top-k — unlike
 * {@code prune-experts}, the other experts' weights are not renormalised. Fused experts zero
 * the expert's sub-tensors of {@code gate_up_proj} and {@code down_proj}.
 */
public final class ZeroExperts extends ComponentEdit<Expert> {

    public ZeroExperts(List<Expert> experts) {
        super("zero-experts", "experts", experts);
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        ModelConfig c = ctx.config();
        Experts x = c.features().experts();
        for (Expert e : components) {
            e.check(c);
        }
        if (ctx.arch().fusedExperts()) {
            List<TensorEdit> out = new ArrayList<>();
            for (Expert e : components) {
                out.add(TensorEdit.zero(ctx.arch().tensorName(Role.EXPERTS_GATE_UP, e.layer()), 0, new int[] {e.expert()}));
                out.add(TensorEdit.zero(ctx.arch().tensorName(Role.EXPERTS_DOWN, e.layer()), 0, new int[] {e.expert()}));
            }
            return out;
        }
        List<Neuron> units = new ArrayList<>();
        for (Expert e : components) {
            for (int j = 0; j < x.width(); j++) {
                units.add(new Neuron(e.layer(), e.expert() * x.width() + j));
            }
        }
        return new ZeroNeurons(units).lower(ctx);
    }
}
