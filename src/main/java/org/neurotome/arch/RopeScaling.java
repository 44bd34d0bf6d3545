package org.neurotome.arch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Checkpoint;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A {@code config.json}'s {@code rope_scaling}, as transformers' {@code modeling_rope_utils.py}
 * reads it ({@code rope_type}, or the older {@code type}); the frequencies it implies are
 * computed by the forward pass's rotary embedding. A family's table lists the types it runs
 * ({@code rope_scaling:}); any other type, or scaling on a family that lists none, is a
 * BAD_CHECKPOINT error naming the key and the supported values.
 *
 * @param factor               context extension factor (linear, dynamic, llama3, yarn)
 * @param lowFreqFactor        llama3: wavelengths above {@code original / low} are divided by {@code factor}
 * @param highFreqFactor       llama3: wavelengths below {@code original / high} are kept
 * @param originalMaxPositions llama3 and yarn: the pre-training context length (0: the config's
 *                             {@code max_position_embeddings})
 * @param betaFast             yarn: rotations bounding the extrapolated (kept) dimensions
 * @param betaSlow             yarn: rotations bounding the interpolated (scaled) dimensions
 * @param attentionFactor      yarn: the factor on cos and sin (0: derived from {@code mscale} or {@code factor})
 * @param mscale               yarn: DeepSeek-style numerator of the derived attention factor (0: unset)
 * @param mscaleAllDim         yarn: DeepSeek-style denominator of the derived attention factor (0: unset)
 * @param truncate             yarn: round the correction range outwards to whole dimensions
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions, double betaFast, double betaSlow, double attentionFactor,
                          double mscale, double mscaleAllDim, boolean truncate) {

    /** The scaling types neurotome computes, by their {@code rope_type} name. */
    public enum Type {
        NONE("default"), LINEAR("linear"), DYNAMIC("dynamic"), LLAMA3("llama3"), YARN("yarn");

        private final String key;

        Type(String key) {
            this.key = key;
        }

        /** The {@code rope_type} value naming this type. */
        public String key() {
            return key;
        }

        /** The type named {@code key}, or null. */
        public static Type ofKey(String key) {
            return Arrays.stream(values()).filter(t -> t.key.equals(key)).findFirst().orElse(null);
        }
    }

    /** No scaling: the plain frequencies {@code θ^(−2k/n)}. */
    public static final RopeScaling NONE = new RopeScaling(Type.NONE, 1, 0, 0, 0, 0, 0, 0, 0, 0, true);

    /** Linear interpolation (position / factor). */
    public static RopeScaling linear(double factor) {
        return new RopeScaling(Type.LINEAR, factor, 0, 0, 0, 0, 0, 0, 0, 0, true);
    }

    /** Dynamic NTK: θ grows with the sequence length past {@code max_position_embeddings}. */
    public static RopeScaling dynamic(double factor) {
        return new RopeScaling(Type.DYNAMIC, factor, 0, 0, 0, 0, 0, 0, 0, 0, true);
    }

    /** Llama 3.1's three-band rescaling. */
    public static RopeScaling llama3(double factor, double low, double high, int originalMaxPositions) {
        return new RopeScaling(Type.LLAMA3, factor, low, high, originalMaxPositions, 0, 0, 0, 0, 0, true);
    }

    /** YaRN with transformers' defaults for what is not given (beta 32/1, derived attention factor). */
    public static RopeScaling yarn(double factor, int originalMaxPositions) {
        return new RopeScaling(Type.YARN, factor, 0, 0, originalMaxPositions, 32, 1, 0, 0, 0, true);
    }

    /**
     * The {@code rope_scaling} of {@code config} for a family of table {@code arch}: null,
     * absent or type {@code default} is {@link #NONE}.
     */
    static RopeScaling read(ObjectNode config, Architecture arch) {
        JsonNode n = config.get("rope_scaling");
        if (n == null || n.isNull()) {
            return NONE;
        }
        if (!n.isObject()) {
            throw bad("rope_scaling must be an object or null, got " + n);
        }
        String typeKey = n.has("rope_type") ? "rope_type" : "type";
        JsonNode t = n.get(typeKey);
        if (t != null && !t.isNull() && !t.isTextual()) {
            throw bad("rope_scaling." + typeKey + " must be a string, got " + t);
        }
        String name = t == null || t.isNull() ? "default" : t.asText();
        Type type = Type.ofKey(name);
        if (type == Type.NONE) {
            return NONE;
        }
        List<Type> allowed = arch.ropeScalingTypes();
        if (type == null || !allowed.contains(type)) {
            throw bad("rope_scaling." + typeKey + " is '" + name + "', which neurotome does not run for "
                    + arch.modelType() + " (" + arch.table() + "); supported: " + (allowed.isEmpty()
                    ? "none (rope_scaling must be null)"
                    : "null, " + allowed.stream().map(Type::key).collect(Collectors.joining(", "))));
        }
        double factor = positive(n, "factor", null);
        return switch (type) {
            case LINEAR -> linear(factor);
            case DYNAMIC -> dynamic(factor);
            case LLAMA3 -> {
                double low = positive(n, "low_freq_factor", null);
                double high = positive(n, "high_freq_factor", null);
                if (!(high > low)) {
                    throw bad("rope_scaling.high_freq_factor (" + high + ") must exceed low_freq_factor (" + low + ")");
                }
                yield llama3(factor, low, high, positions(n, true));
            }
            case YARN -> {
                double fast = positive(n, "beta_fast", 32.0);
                double slow = positive(n, "beta_slow", 1.0);
                if (!(fast > slow)) {
                    throw bad("rope_scaling.beta_fast (" + fast + ") must exceed beta_slow (" + slow + ")");
                }
                JsonNode truncate = n.get("truncate");
                if (truncate != null && !truncate.isNull() && !truncate.isBoolean()) {
                    throw bad("rope_scaling.truncate must be true or false, got " + truncate);
                }
                yield new RopeScaling(Type.YARN, factor, 0, 0, positions(n, false), fast, slow,
                        positive(n, "attention_factor", 0.0), positive(n, "mscale", 0.0),
                        positive(n, "mscale_all_dim", 0.0), truncate == null || truncate.isNull() || truncate.asBoolean());
            }
            case NONE -> NONE;
        };
    }

    /** {@code key} of rope_scaling as a positive number; absent or null gives {@code fallback} (null: required). */
    private static double positive(JsonNode n, String key, Double fallback) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            if (fallback == null) {
                throw bad("rope_scaling." + key + " is missing; rope_scaling type '" + typeOf(n) + "' needs it");
            }
            return fallback;
        }
        if (!v.isNumber() || !(v.asDouble() > 0) || Double.isInfinite(v.asDouble())) {
            throw bad("rope_scaling." + key + " must be a positive number, got " + v);
        }
        return v.asDouble();
    }

    private static int positions(JsonNode n, boolean required) {
        JsonNode v = n.get("original_max_position_embeddings");
        if (v == null || v.isNull()) {
            if (required) {
                throw bad("rope_scaling.original_max_position_embeddings is missing; rope_scaling type '" + typeOf(n)
                        + "' needs it");
            }
            return 0;
        }
        if (!v.canConvertToExactIntegral() || v.asDouble() < 1 || v.asDouble() > Integer.MAX_VALUE) {
            throw bad("rope_scaling.original_max_position_embeddings must be a positive whole number, got " + v);
        }
        return v.asInt();
    }

    private static String typeOf(JsonNode n) {
        return n.has("rope_type") ? n.get("rope_type").asText() : n.path("type").asText();
    }

    private static NeurotomeException bad(String message) {
        return NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + message);
    }

    /** The {@code rope_scaling} value that reads back as this scaling, or JSON null for {@link #NONE}. */
    public JsonNode toJson() {
        if (type == Type.NONE) {
            return Json.MAPPER.nullNode();
        }
        ObjectNode o = Json.MAPPER.createObjectNode().put("rope_type", type.key()).put("factor", factor);
        switch (type) {
            case LLAMA3 -> o.put("low_freq_factor", lowFreqFactor).put("high_freq_factor", highFreqFactor)
                    .put("original_max_position_embeddings", originalMaxPositions);
            case YARN -> {
                o.put("beta_fast", betaFast).put("beta_slow", betaSlow).put("truncate", truncate);
                if (originalMaxPositions > 0) {
                    o.put("original_max_position_embeddings", originalMaxPositions);
                }
                if (attentionFactor > 0) {
                    o.put("attention_factor", attentionFactor);
                }
                if (mscale > 0) {
                    o.put("mscale", mscale);
                }
                if (mscaleAllDim > 0) {
                    o.put("mscale_all_dim", mscaleAllDim);
                }
            }
            default -> {
            }
        }
        return o;
    }
}
