package org.neurotome.model;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names of the internals a forward pass can record, as TransformerLens names its hook
 * points ({@code transformer_lens/hook_points.py}, {@code components/abstract_attention.py}).
 * Shapes are given at the last position, [B, …]; recorded at all positions they are
 * [B, S, …] (a pattern at all positions is [B, H, S, S]).
 */
public final class Tap {
    /** sqrt(var + eps) of the final norm [B]; var is mean(x²) for RMSNorm, the biased variance for LayerNorm. */
    public static final String FINAL_SCALE = "ln_final.hook_scale";

    private static final Pattern LAYER = Pattern.compile("blocks\\.(\\d+)\\.(.+)");
    private static final List<String> LAYER_POINTS = List.of("hook_resid_pre", "attn.hook_z", "attn.hook_pattern",
            "attn.hook_result", "hook_attn_out", "hook_resid_mid", "mlp.hook_post", "hook_mlp_out", "hook_resid_post");
    /** Points only families with post-norms (Gemma 2, Gemma 3, OLMo 2) have. */
    private static final List<String> POST_NORM_POINTS = List.of("ln1_post.hook_scale", "ln2_post.hook_scale");
    /** Points only mixture-of-experts families have, on their sparse layers. */
    private static final List<String> ROUTING_POINTS = List.of("mlp.hook_router_logits", "mlp.hook_expert_weights",
            "mlp.hook_expert_indices", "mlp.hook_expert_out");

    private Tap() {
    }

    /** Residual stream entering layer l [B, D]. */
    public static String residPre(int l) {
        return "blocks." + l + ".hook_resid_pre";
    }

    /** Each head's attention-weighted values, before the output projection [B, H, hd]. */
    public static String attnZ(int l) {
        return "blocks." + l + ".attn.hook_z";
    }

    /** Attention probabilities [B, H, S] (keys of the row's last query; zero on padding). */
    public static String attnPattern(int l) {
        return "blocks." + l + ".attn.hook_pattern";
    }

    /**
     * Each head's output through its own slice of the output projection, no bias [B, H, D];
     * with a post-attention norm, times that norm's gain ({@code (1 + w) / scale} in Gemma 2,
     * {@code w / scale} in OLMo 2) frozen at its value for the whole attention output at that
     * position, so the heads still sum to {@link #attnOut} (the reference's convention).
     */
    public static String attnResult(int l) {
        return "blocks." + l + ".attn.hook_result";
    }

    /** Attention block output, including the output-projection bias (and the post-attention norm) [B, D]. */
    public static String attnOut(int l) {
        return "blocks." + l + ".hook_attn_out";
    }

    /** resid_pre + attn_out [B, D]: the base of FFN neuron attribution (for GPT-J a point of its parallel sum). */
    public static String residMid(int l) {
        return "blocks." + l + ".hook_resid_mid";
    }

    /** FFN coefficients m_k, the signed activations multiplying the value vectors [B, I]. */
    public static String mlpPost(int l) {
        return "blocks." + l + ".mlp.hook_post";
    }

    /** FFN output, Σ_k m_k·value_k + bias (then the post-FFN norm, Gemma 2) [B, D]. */
    public static String mlpOut(int l) {
        return "blocks." + l + ".hook_mlp_out";
    }

    /**
     * sqrt(mean(o²) + eps) of the whole attention output o entering the post-attention norm [B]
     * (Gemma 2; TransformerLens {@code ln1_post.hook_scale}).
     */
    public static String ln1PostScale(int l) {
        return "blocks." + l + ".ln1_post.hook_scale";
    }

    /**
     * sqrt(mean(y²) + eps) of the whole FFN output y entering the post-FFN norm [B] (Gemma 2):
     * neuron k reaches the residual as {@code m_k·value_k ⊙ (1 + w) / scale}.
     */
    public static String ln2PostScale(int l) {
        return "blocks." + l + ".ln2_post.hook_scale";
    }

    /** A sparse layer's router logits, {@code gate.weight · x} [B, E]. */
    public static String routerLogits(int l) {
        return "blocks." + l + ".mlp.hook_router_logits";
    }

    /**
     * A sparse layer's routing weights [B, E]: the selected experts' softmax probabilities
     * (renormalised where the family does), 0 for the others (TransformerLens {@code hook_expert_weights}).
     */
    public static String expertWeights(int l) {
        return "blocks." + l + ".mlp.hook_expert_weights";
    }

    /** A sparse layer's selected experts, by descending probability [B, k] (int64; TransformerLens {@code hook_expert_indices}). */
    public static String expertIndices(int l) {
        return "blocks." + l + ".mlp.hook_expert_indices";
    }

    /**
     * A sparse layer's per-expert outputs [B, E, D] (Qwen2-MoE: [B, E + 1, D], the shared
     * expert's last): row e is {@code routing_weights[e] · down_e · a_e}, zero for an expert not
     * selected, and the shared row is the gated shared expert's output; the rows sum to
     * {@link #mlpOut}.
     */
    public static String expertOut(int l) {
        return "blocks." + l + ".mlp.hook_expert_out";
    }

    /** Whether {@code name} is one of a sparse layer's routing taps. */
    static boolean routing(String name) {
        return ROUTING_POINTS.contains(pointOf(name));
    }

    /** Residual stream leaving layer l [B, D]; of the last layer, the final residual before the norm. */
    public static String residPost(int l) {
        return "blocks." + l + ".hook_resid_post";
    }

    /** Every tap name a model with {@code config} offers. */
    public static List<String> all(ModelConfig config) {
        List<String> names = new ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            for (String p : points(config)) {
                if (ROUTING_POINTS.contains(p) && !config.sparseLayer(l)) {
                    continue;
                }
                names.add("blocks." + l + "." + p);
            }
        }
        names.add(FINAL_SCALE);
        return names;
    }

    /** The layer a layer tap belongs to, or -1 for {@link #FINAL_SCALE}; unknown names are BAD_INPUT errors. */
    static int layerOf(String name, ModelConfig config) {
        if (name.equals(FINAL_SCALE)) {
            return -1;
        }
        Matcher m = LAYER.matcher(name);
        if (m.matches() && points(config).contains(m.group(2))) {
            int l = Integer.parseInt(m.group(1));
            if (l < config.numLayers()) {
                return l;
            }
        }
        throw NeurotomeException.badInput("unknown tap '" + name + "'; taps are blocks.{l}.<point> for l in 0.."
                + (config.numLayers() - 1) + " with point one of " + String.join(", ", points(config)) + ", and "
                + FINAL_SCALE);
    }

    /** The layer points a model with {@code config} offers. */
    private static List<String> points(ModelConfig config) {
        List<String> all = new ArrayList<>(LAYER_POINTS);
        if (config.architecture().declares(Role.LN1_POST)) {
            all.addAll(POST_NORM_POINTS);
        }
        if (config.architecture().sparse()) {
            all.addAll(ROUTING_POINTS);
        }
        return all;
    }

    /** The point of a layer tap name (the part after {@code blocks.{l}.}). */
    static String pointOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.matches() ? m.group(2) : name;
    }
}
