package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.Expert;
import org.neurotome.arch.Experts;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.IntStream;

/**
 * {@code prune-experts}: removes routed experts from a mixture-of-experts checkpoint
 * (docs/recipes.md; the expert pruning of Lasby et al. 2025, "REAP", with transformers'
 * {@code MixtralSparseMoeBlock} / {@code Qwen2MoeSparseMoeBlock} routing). The removed experts'
 * router rows are dropped and their tensors left out; the kept experts are renumbered
 * 0 … E−r−1 in their original order; config.json's expert count ({@code num_local_experts} or
 * {@code num_experts}) becomes E−r and everything else is copied as it is. A model without an
 * expert equals the model whose router never picks it (logit −∞), so the routing over the
 * others is unchanged up to that. Every sparse layer must lose the same number (a config has one
 * expert count), and at least top-k experts must stay. Fused experts (transformers v5's
 * {@code experts.gate_up_proj} [E, 2I, D], {@code experts.down_proj} [E, D, I]) keep their
 * layout, losing the removed experts' sub-tensors.
 */
public final class PruneExperts extends ComponentEdit<Expert> {

    public PruneExperts(List<Expert> experts) {
        super("prune-experts", "experts", experts);
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        ModelConfig c = ctx.config();
        Architecture arch = ctx.arch();
        Experts x = c.features().experts();
        Map<Integer, TreeSet<Integer>> removed = new TreeMap<>();
        for (Expert e : components) {
            removed.computeIfAbsent(e.check(c).layer(), l -> new TreeSet<>()).add(e.expert());
        }
        String countKey = arch.configKey("num_experts");
        List<Integer> sparse = Expert.sparseLayers(c);
        int r = removed.get(components.getFirst().layer()).size();
        for (int l : sparse) {
            int n = removed.getOrDefault(l, new TreeSet<>()).size();
            if (n != r) {
                throw NeurotomeException.badInput("prune-experts removes " + r + " expert(s) from layer "
                        + components.getFirst().layer() + " but " + n + " from layer " + l + "; config.json has one expert"
                        + " count (" + countKey + ") for every sparse layer, so each of the sparse layers " + sparse
                        + " must lose the same number");
            }
        }
        int left = x.count() - r;
        if (left == 0) {
            throw NeurotomeException.badInput("prune-experts removes all " + x.count() + " experts of each sparse layer;"
                    + " a sparse layer needs at least num_experts_per_tok (" + x.topK() + ")");
        }
        if (left < x.topK()) {
            throw NeurotomeException.badInput("prune-experts leaves " + left + " of " + x.count() + " experts per sparse"
                    + " layer, fewer than the " + x.topK() + " each position is routed to (num_experts_per_tok); remove at"
                    + " most " + (x.count() - x.topK()) + " per layer");
        }
        List<TensorEdit> out = new ArrayList<>();
        for (int l : sparse) {
            TreeSet<Integer> gone = removed.get(l);
            int[] kept = IntStream.range(0, x.count()).filter(e -> !gone.contains(e)).toArray();
            out.add(TensorEdit.keep(arch.tensorName(Role.ROUTER, l), 0, kept));
            if (arch.fusedExperts()) {
                out.add(TensorEdit.keep(arch.tensorName(Role.EXPERTS_GATE_UP, l), 0, kept));
                out.add(TensorEdit.keep(arch.tensorName(Role.EXPERTS_DOWN, l), 0, kept));
                continue;
            }
            for (Role role : List.of(Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN)) {
                for (int e : gone) {
                    out.add(TensorEdit.drop(arch.tensorName(role, l, e)));
                }
                for (int n = 0; n < kept.length; n++) {
                    if (kept[n] != n) {
                        out.add(TensorEdit.rename(arch.tensorName(role, l, kept[n]), arch.tensorName(role, l, n)));
                    }
                }
            }
        }
        ObjectNode config = ctx.configJson().deepCopy();
        config.put(countKey, left);
        ModelConfig.from(config); // the rewritten config must read back as a valid model
        ctx.rewriteConfig(config);
        ctx.markExpertsPruned();
        return out;
    }
}
