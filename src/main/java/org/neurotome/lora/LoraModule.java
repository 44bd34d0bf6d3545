package org.neurotome.lora;

import org.neurotome.arch.Role;

/**
 * One module's adapter, bound to a model: which projection it changes and by how much. PEFT
 * stores every adapter as for {@code nn.Linear}, whatever the base layer's storage order:
 * {@code lora_A.weight} is [r, in], {@code lora_B.weight} is [out, r], and the module's
 * weight in [out, in] orientation becomes W + scale·B·A (peft/tuners/lora/layer.py
 * {@code get_delta_weight}, transposed back for GPT-2's Conv1D).
 *
 * @param module the Hugging Face module path, e.g. {@code model.layers.3.self_attn.q_proj}
 * @param role   the projection it is in the family's table
 * @param layer  its layer
 * @param tensor the checkpoint tensor it changes, as the checkpoint names it
 * @param scale  α/r (α/√r with rsLoRA)
 * @param out    output features
 * @param in     input features
 * @param a      lora_A, [rank, in] row-major
 * @param b      lora_B, [out, rank] row-major
 */
public record LoraModule(String module, Role role, int layer, String tensor, int rank, double alpha, double scale,
                         int out, int in, float[] a, float[] b) {

    public LoraModule {
        if ((long) rank * in != a.length || (long) out * rank != b.length) {
            throw new IllegalArgumentException(module + ": A has " + a.length + " values for [" + rank + ", " + in
                    + "], B " + b.length + " for [" + out + ", " + rank + "]");
        }
    }

    /** The number of trained values, A's and B's. */
    public long parameters() {
        return (long) a.length + b.length;
    }
}
