package org.neurotome.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.List;

/**
 * The auxiliary load-balancing loss of a mixture of experts (Fedus et al. 2021, "Switch
 * Transformers", §2.2, eq. 4–6; transformers' {@code load_balancing_loss_func} in
 * {@code modeling_mixtral.py}): per sparse layer, {@code E · Σ_e f_e · P_e}, where {@code f_e} is
 * the share of the k selections over the real positions of the batch that go to expert e and
 * {@code P_e} the mean router probability of e over those positions; the mean over layers. It is 1
 * when routing is uniform and grows as a few experts take most positions; the gradient flows
 * through {@code P_e} (the selections are counts). Padding positions are left out.
 */
public final class LoadBalancingLoss {
    private LoadBalancingLoss() {
    }

    /**
     * The loss of the router logits {@code logits} (one [B, S, E] array per sparse layer, in the
     * graph of the forward) for a batch of right-padded {@code rows}, each selecting {@code topK}
     * experts; a 0-d array ready for a backward pass.
     */
    public static NDArray of(List<NDArray> logits, List<int[]> rows, int topK) {
        if (logits.isEmpty()) {
            throw new IllegalArgumentException("no sparse layer");
        }
        NDArray first = logits.getFirst();
        int b = rows.size();
        int s = (int) first.getShape().get(1);
        int experts = (int) first.getShape().get(2);
        float[] mask = new float[b * s];
        int count = 0;
        for (int r = 0; r < b; r++) {
            for (int i = 0; i < rows.get(r).length; i++) {
                mask[r * s + i] = 1f;
                count++;
            }
        }
        NDManager m = first.getManager();
        // a copy that libtorch owns: autograd reads it after this call returns
        NDArray real = m.create(mask, new Shape(b, s, 1)).duplicate();
        NDArray positions = m.full(new Shape(), (float) count);
        NDArray total = null;
        for (NDArray layer : logits) {
            NDArray probs = layer.softmax(2);                                          // [B, S, E]
            NDArray chosen = probs.stopGradient().topK(topK, 2, true, true).get(1).oneHot(experts, DataType.FLOAT32)
                    .sum(new int[] {2});                                               // [B, S, E]
            NDArray share = chosen.mul(real).sum(new int[] {0, 1}).div(positions.mul(m.full(new Shape(), (float) topK)));
            NDArray meanProb = probs.mul(real).sum(new int[] {0, 1}).div(positions);   // [E]
            NDArray l = share.mul(meanProb).sum().mul(m.full(new Shape(), (float) experts));
            total = total == null ? l : total.add(l);
        }
        return total.div(m.full(new Shape(), (float) logits.size()));
    }
}
