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
 * and OLMo 2's norms of the attention and FFN outputs.
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
    LN_F(false), LN_F_BIAS(false),
    LM_HEAD(false), LM_HEAD_BIAS(false);

    private final boolean perLayer;

    Role(boolean perLayer) {
        this.perLayer = perLayer;
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
