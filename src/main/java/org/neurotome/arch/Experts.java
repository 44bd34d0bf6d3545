package org.neurotome.arch;

import java.util.List;

/**
 * The mixture-of-experts settings of a model (transformers' {@code modeling_mixtral.py},
 * {@code modeling_qwen2_moe.py}, {@code modeling_qwen3_moe.py}, {@code modeling_olmoe.py}):
 * a sparse layer routes each position to the {@code topK} of {@code count} experts by a
 * float32 softmax over all of them, weights them by their probabilities (divided by the sum of
 * the selected ones when {@code renormalize}) and, in Qwen2-MoE, adds a shared expert scaled by
 * {@code sigmoid(shared_expert_gate·x)}. Qwen's layers in {@code denseLayers}
 * ({@code mlp_only_layers}), or with {@code (l + 1) % sparseStep ≠ 0}
 * ({@code decoder_sparse_step}), keep a dense FFN.
 *
 * @param count        experts per sparse layer (0: a dense model)
 * @param topK         experts each position is routed to
 * @param renormalize  the selected weights are divided by their sum (Mixtral; {@code norm_topk_prob})
 * @param width        each expert's intermediate size
 * @param sharedWidth  the shared expert's intermediate size (0: none)
 * @param sparseStep   every {@code sparseStep}-th layer is sparse
 * @param denseLayers  layers that keep a dense FFN whatever the step
 */
public record Experts(int count, int topK, boolean renormalize, int width, int sharedWidth, int sparseStep,
                      List<Integer> denseLayers) {
    /** A dense model. */
    public static final Experts NONE = new Experts(0, 0, false, 0, 0, 1, List.of());

    public Experts {
        denseLayers = List.copyOf(denseLayers);
    }

    /** Whether layer {@code l} has experts. */
    public boolean sparse(int l) {
        return count > 0 && !denseLayers.contains(l) && sparseStep > 0 && (l + 1) % sparseStep == 0;
    }

    /** The neurons of a sparse layer: every expert's, expert-major, then the shared expert's. */
    public int neurons() {
        return count * width + sharedWidth;
    }
}
