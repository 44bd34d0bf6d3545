package org.neurotome.arch;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The canonical weight roles of a decoder-only transformer, independent of how one family
 * names its tensors. An architecture table ({@code arch/<model_type>.yaml}) maps each role
 * it uses to a tensor-name template. The FFN input projection is {@link #UP} whatever the
 * family calls it ({@code up_proj}, GPT-2's {@code c_fc}, GPT-J's {@code fc_in}), and the
 * output projection is {@link #DOWN} ({@code down_proj}, {@code c_proj}, {@code fc_out}).
 * {@link #GATE_UP} is Phi-3's fused {@code gate_up_proj} (gate rows, then up rows);
 * {@link #Q_NORM}/{@link #K_NORM} are the RMSNorms of q and k (per head in Qwen3 and Gemma 3,
 * over the whole projection in OLMo 2); {@link #LN1_POST} and {@link #LN2_POST} are Gemma 2's
 * and OLMo 2's norms of the attention and FFN outputs. The roles of a sparse (mixture-of-experts)
 * FFN block: {@link #ROUTER} ({@code gate.weight} [E, D]); each expert's {@link #EXPERT_GATE},
 * {@link #EXPERT_UP} and {@link #EXPERT_DOWN} (templates with {@code {e}}, the expert index), or
 * all experts fused as transformers v5 writes them ({@link #EXPERTS_GATE_UP} [E, 2I, D]: each
 * expert's gate rows, then its up rows; {@link #EXPERTS_DOWN} [E, D, I]); and Qwen2-MoE's shared
 * expert ({@link #SHARED_GATE}, {@link #SHARED_UP}, {@link #SHARED_DOWN}) with its sigmoid gate
 * {@link #SHARED_EXPERT_GATE} [1, D].
 */
public enum Role {
    EMBED(false), POS_EMBED(false),
    LN1(true), LN1_BIAS(true),
    Q(true), Q_BIAS(true), K(true), K_BIAS(true), V(true), V_BIAS(true),
    QKV(true), QKV_BIAS(true),
    Q_NORM(true), K_NORM(true),
    O(true), O_BIAS(true),
    LN1_POST(true),
    LN2(true), LN2_BIAS(true),
    GATE(true), GATE_BIAS(true), UP(true), UP_BIAS(true), GATE_UP(true), DOWN(true), DOWN_BIAS(true),
    LN2_POST(true),
    ROUTER(true), EXPERT_GATE(true), EXPERT_UP(true), EXPERT_DOWN(true), EXPERTS_GATE_UP(true), EXPERTS_DOWN(true),
    SHARED_GATE(true), SHARED_UP(true), SHARED_DOWN(true), SHARED_EXPERT_GATE(true),
    LN_F(false), LN_F_BIAS(false),
    LM_HEAD(false), LM_HEAD_BIAS(false);

    private final boolean perLayer;

    Role(boolean perLayer) {
        this.perLayer = perLayer;
    }

    /** Whether the role belongs to a sparse FFN block (router, experts, shared expert). */
    public boolean sparse() {
        return ordinal() >= ROUTER.ordinal() && ordinal() <= SHARED_EXPERT_GATE.ordinal();
    }

    /** Whether the role exists once per expert (its template contains {@code {e}}). */
    public boolean perExpert() {
        return this == EXPERT_GATE || this == EXPERT_UP || this == EXPERT_DOWN;
    }

    /** Whether the role belongs to a dense FFN (absent from a sparse layer). */
    public boolean denseFfn() {
        return this == GATE || this == GATE_BIAS || this == UP || this == UP_BIAS || this == GATE_UP || this == DOWN
                || this == DOWN_BIAS;
    }

    /** Whether the role exists once per layer (its template contains {@code {l}}). */
    public boolean perLayer() {
        return perLayer;
    }

    /** The key of this role in an architecture table, e.g. {@code qkv_bias}. */
    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The role whose table key is {@code key}, or null. */
    public static Role ofKey(String key) {
        for (Role r : values()) {
            if (r.key().equals(key)) {
                return r;
            }
        }
        return null;
    }

    public static String allowedKeys() {
        return Arrays.stream(values()).map(Role::key).collect(Collectors.joining(", "));
    }
}
