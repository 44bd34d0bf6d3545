package org.neurotome.arch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Checkpoint;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape and hyper-parameters of one model, read from {@code config.json} through its
 * family's {@link Architecture} table (which key means what, and the defaults
 * transformers' {@code *Config} classes apply when a key is absent or null).
 *
 * @param rotaryDim     dimensions of each head that rotary embeddings rotate (0: none)
 * @param slidingWindow the attention window (0: unlimited), in the layers the family's table says
 * @param tied          the LM head is the token-embedding matrix
 * @param bosTokenId    null when config.json gives none
 * @param eosTokenIds   empty when config.json gives none
 * @param features      the settings only some families use
 */
public record ModelConfig(String modelType, int numLayers, int numHeads, int numKvHeads, int headDim,
                          int hiddenSize, int ffnSize, int vocabSize, int maxPositions, double normEps,
                          double ropeTheta, int rotaryDim, int slidingWindow, Activation activation, boolean tied,
                          boolean attentionBias, boolean mlpBias, Integer bosTokenId, List<Integer> eosTokenIds,
                          Features features) {

    /** The fields every architecture table's {@code config} section defines. */
    static final List<String> TABLE_FIELDS = List.of("num_layers", "num_heads", "num_kv_heads", "hidden_size",
            "head_dim", "ffn_size", "vocab_size", "max_positions", "norm_eps", "rope_theta", "rotary_dim",
            "sliding_window", "activation", "tie_word_embeddings", "attention_bias", "mlp_bias");
    /**
     * The fields a table may define, with the value they take when it does not:
     * {@code rotary_fraction} (GPT-NeoX's {@code rotary_pct}, Phi-3's {@code partial_rotary_factor}),
     * {@code parallel_residual} (the table's {@code layout.block} unless a config key chooses),
     * Gemma 2's {@code query_pre_attn_scalar} and soft-caps (an explicit null cap means none),
     * OLMoE's {@code clip_qkv} (null: none), Gemma 3's local rotary base and window pattern, and the
     * mixture-of-experts settings ({@link Experts}; {@code dense_layers} is a list of layers).
     */
    static final Map<String, JsonNode> OPTIONAL_FIELDS = optionalFields();
    /** Every field in evaluation order: a default may name a field before it. */
    private static final List<String> FIELD_ORDER = List.of("num_layers", "num_heads", "num_kv_heads", "hidden_size",
            "head_dim", "ffn_size", "vocab_size", "max_positions", "norm_eps", "rope_theta", "rotary_fraction",
            "rotary_dim", "sliding_window", "activation", "tie_word_embeddings", "attention_bias", "mlp_bias",
            "parallel_residual", "query_pre_attn_scalar", "attn_softcap", "final_softcap", "clip_qkv",
            "rope_local_theta", "sliding_window_pattern", "num_experts", "experts_per_token", "expert_ffn_size",
            "shared_expert_ffn_size", "norm_topk_prob", "decoder_sparse_step", "dense_layers");
    /** The fields whose null (in config.json or as the table's default) means "none", read as 0. */
    private static final List<String> NULL_MEANS_NONE = List.of("attn_softcap", "final_softcap", "clip_qkv");
    /** The boolean fields a tensor template may depend on ({@code when:}). */
    static final List<String> FLAG_FIELDS = List.of("attention_bias", "mlp_bias");

    private static Map<String, JsonNode> optionalFields() {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        m.put("rotary_fraction", Json.MAPPER.getNodeFactory().numberNode(1.0));
        m.put("parallel_residual", Json.MAPPER.getNodeFactory().booleanNode(false));
        m.put("query_pre_attn_scalar", Json.MAPPER.getNodeFactory().textNode("head_dim"));
        m.put("attn_softcap", Json.MAPPER.getNodeFactory().numberNode(0.0));
        m.put("final_softcap", Json.MAPPER.getNodeFactory().numberNode(0.0));
        m.put("clip_qkv", Json.MAPPER.getNodeFactory().numberNode(0.0));
        m.put("rope_local_theta", Json.MAPPER.getNodeFactory().numberNode(0.0));
        m.put("sliding_window_pattern", Json.MAPPER.getNodeFactory().numberNode(0));
        m.put("num_experts", Json.MAPPER.getNodeFactory().numberNode(0));
        m.put("experts_per_token", Json.MAPPER.getNodeFactory().numberNode(0));
        m.put("expert_ffn_size", Json.MAPPER.getNodeFactory().numberNode(0));
        m.put("shared_expert_ffn_size", Json.MAPPER.getNodeFactory().numberNode(0));
        m.put("norm_topk_prob", Json.MAPPER.getNodeFactory().booleanNode(false));
        m.put("decoder_sparse_step", Json.MAPPER.getNodeFactory().numberNode(1));
        m.put("dense_layers", Json.MAPPER.getNodeFactory().arrayNode());
        return Collections.unmodifiableMap(m);
    }

    /** A config with its family's plain {@link Features}. */
    public ModelConfig(String modelType, int numLayers, int numHeads, int numKvHeads, int headDim, int hiddenSize,
                       int ffnSize, int vocabSize, int maxPositions, double normEps, double ropeTheta, int rotaryDim,
                       int slidingWindow, Activation activation, boolean tied, boolean attentionBias, boolean mlpBias,
                       Integer bosTokenId, List<Integer> eosTokenIds) {
        this(modelType, numLayers, numHeads, numKvHeads, headDim, hiddenSize, ffnSize, vocabSize, maxPositions, normEps,
                ropeTheta, rotaryDim, slidingWindow, activation, tied, attentionBias, mlpBias, bosTokenId, eosTokenIds,
                Features.plain(modelType, headDim));
    }

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        java.util.Objects.requireNonNull(features, "features");
        check(numLayers > 0, "num_layers", numLayers);
        check(numHeads > 0, "num_heads", numHeads);
        check(numKvHeads > 0 && numHeads % numKvHeads == 0, "num_kv_heads (must divide num_heads " + numHeads + ")",
                numKvHeads);
        check(headDim > 0, "head_dim", headDim);
        check(hiddenSize > 0, "hidden_size", hiddenSize);
        check(ffnSize > 0, "ffn_size", ffnSize);
        check(vocabSize > 0, "vocab_size", vocabSize);
        check(maxPositions > 0, "max_positions", maxPositions);
        check(normEps > 0, "norm_eps", normEps);
        check(rotaryDim >= 0 && rotaryDim <= headDim && rotaryDim % 2 == 0,
                "rotary_dim (even, at most head_dim " + headDim + ")", rotaryDim);
        check(rotaryDim == 0 || ropeTheta > 0, "rope_theta", ropeTheta);
        check(slidingWindow >= 0, "sliding_window", slidingWindow);
    }

    static void check(boolean ok, String what, Object value) {
        if (!ok) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + what + " is " + value
                    + ", which is not a valid value");
        }
    }

    /** The fields that must be at least 1 (the others of {@link #TABLE_FIELDS} that are whole numbers may be 0). */
    private static final List<String> POSITIVE = List.of("num_layers", "num_heads", "num_kv_heads", "hidden_size",
            "head_dim", "ffn_size", "vocab_size", "max_positions", "decoder_sparse_step");

    /**
     * Reads the {@code config.json} of {@code checkpoint}: as {@link #from(ObjectNode)}, with the
     * file's full path in every message.
     */
    public static ModelConfig from(Checkpoint checkpoint) {
        try {
            return from(checkpoint.config());
        } catch (NeurotomeException e) {
            String prefix = Checkpoint.CONFIG + ": ";
            if (e.getMessage() != null && e.getMessage().startsWith(prefix)) {
                throw new NeurotomeException(e.exitCode(), checkpoint.dir().resolve(Checkpoint.CONFIG) + ": "
                        + e.getMessage().substring(prefix.length()), e);
            }
            throw e;
        }
    }

    /** Reads {@code config.json}; missing keys, bad values and unsupported settings are BAD_CHECKPOINT errors. */
    public static ModelConfig from(ObjectNode config) {
        JsonNode type = config.get("model_type");
        if (type == null || !type.isTextual()) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": needs a \"model_type\" string; supported: "
                    + String.join(", ", Architecture.supported()));
        }
        Architecture arch = Architecture.forModelType(type.asText());
        for (Map.Entry<String, JsonNode> r : arch.requires().entrySet()) {
            JsonNode v = config.get(r.getKey());
            if (v != null && !sameValue(v, r.getValue())) {
                throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + r.getKey() + " is " + v
                        + "; neurotome runs " + arch.modelType() + " only with " + r.getKey() + " = " + r.getValue()
                        + " (" + arch.table() + ")");
            }
        }
        Map<String, Object> v = new HashMap<>();
        for (String field : FIELD_ORDER) {
            v.put(field, read(config, arch, field, v));
        }
        checkRotaryDim(arch, v);
        if (arch.windowPattern() && (int) v.get("sliding_window_pattern") < 1) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + name(arch, "sliding_window_pattern")
                    + " is " + v.get("sliding_window_pattern") + "; allowed: a whole number from 1 (every layer global)");
        }
        checkLayerTypes(config, arch, (int) v.get("num_layers"), (int) v.get("sliding_window"),
                (int) v.get("sliding_window_pattern"));
        Experts experts = experts(arch, v);
        int hidden = (int) v.get("hidden_size");
        int heads = (int) v.get("num_heads");
        int kvHeads = (int) v.get("num_kv_heads");
        if (heads % kvHeads != 0) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + name(arch, "num_kv_heads") + " is " + kvHeads
                    + ", which does not divide " + name(arch, "num_heads") + " " + heads);
        }
        Activation act = Activation.ofConfigName((String) v.get("activation"));
        if (act == null) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": activation '" + v.get("activation")
                    + "' is not supported; supported: " + Activation.allowed());
        }
        return new ModelConfig(arch.modelType(), (int) v.get("num_layers"), (int) v.get("num_heads"),
                (int) v.get("num_kv_heads"), (int) v.get("head_dim"), hidden, (int) v.get("ffn_size"),
                (int) v.get("vocab_size"), (int) v.get("max_positions"), (double) v.get("norm_eps"),
                (double) v.get("rope_theta"), (int) v.get("rotary_dim"), (int) v.get("sliding_window"), act,
                (boolean) v.get("tie_word_embeddings"), (boolean) v.get("attention_bias"),
                (boolean) v.get("mlp_bias"), inVocabulary(tokenId(config, "bos_token_id"), "bos_token_id", v),
                tokenIds(config, "eos_token_id").stream().map(id -> inVocabulary(id, "eos_token_id", v)).toList(),
                new Features(RopeScaling.read(config, arch), (double) v.get("query_pre_attn_scalar"),
                        (double) v.get("attn_softcap"), (double) v.get("final_softcap"),
                        (boolean) v.get("parallel_residual"), (double) v.get("clip_qkv"),
                        (double) v.get("rope_local_theta"), (int) v.get("sliding_window_pattern"), experts));
    }

    /**
     * The mixture-of-experts settings read for a table that routes (its {@code num_experts} read
     * from a key): at least one expert, each position routed to between 1 and all of them, experts
     * of at least one unit, and dense layers that exist.
     */
    @SuppressWarnings("unchecked")
    private static Experts experts(Architecture arch, Map<String, Object> v) {
        if (!arch.sparse()) {
            return Experts.NONE;
        }
        int count = (int) v.get("num_experts");
        int topK = (int) v.get("experts_per_token");
        int layers = (int) v.get("num_layers");
        if (count < 1) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + name(arch, "num_experts") + " is " + count
                    + "; allowed: a whole number from 1");
        }
        if (topK < 1 || topK > count) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + name(arch, "experts_per_token") + " is "
                    + topK + "; allowed: a whole number from 1 to " + name(arch, "num_experts") + " " + count);
        }
        if ((int) v.get("expert_ffn_size") < 1) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + name(arch, "expert_ffn_size") + " is "
                    + v.get("expert_ffn_size") + "; allowed: a whole number from 1");
        }
        List<Integer> dense = (List<Integer>) v.get("dense_layers");
        for (int l : dense) {
            if (l < 0 || l >= layers) {
                throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + name(arch, "dense_layers") + " lists "
                        + l + "; allowed: layers 0 to " + (layers - 1));
            }
        }
        return new Experts(count, topK, (boolean) v.get("norm_topk_prob"), (int) v.get("expert_ffn_size"),
                (int) v.get("shared_expert_ffn_size"), (int) v.get("decoder_sparse_step"), dense);
    }

    /** How messages name a table field: by its config.json key, or as derived when the family has none. */
    private static String name(Architecture arch, String field) {
        String key = arch.configField(field).key();
        return key != null ? key : field + " (derived by " + arch.table() + ")";
    }

    private static Integer inVocabulary(Integer id, String key, Map<String, Object> v) {
        int vocab = (int) v.get("vocab_size");
        if (id != null && (id < 0 || id >= vocab)) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + key + " " + id + " is outside the"
                    + " vocabulary; allowed: a token id from 0 to " + (vocab - 1) + " (vocab_size " + vocab + ")");
        }
        return id;
    }

    /**
     * Newer transformers write each layer's attention kind ({@code layer_types}); it must be what
     * the family's table implies: a sliding window on the layers the table windows (when there
     * is a window), full attention elsewhere.
     */
    private static void checkLayerTypes(ObjectNode config, Architecture arch, int layers, int window, int pattern) {
        JsonNode types = config.get("layer_types");
        if (types == null || types.isNull()) {
            return;
        }
        List<String> expected = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            expected.add(window > 0 && arch.windowed(l, pattern) ? "sliding_attention" : "full_attention");
        }
        List<String> got = new ArrayList<>();
        types.forEach(t -> got.add(t.asText()));
        if (!types.isArray() || !got.equals(expected)) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": layer_types is " + types + "; neurotome runs "
                    + arch.modelType() + " with sliding_window " + window + " only as " + expected + " ("
                    + arch.table() + ")");
        }
    }

    /**
     * Rotary embeddings pair dimension i with i + n/2 of the rotated n, so n must be even and
     * at most head_dim; a fraction of head_dim is truncated first, as transformers' {@code int()}.
     */
    private static void checkRotaryDim(Architecture arch, Map<String, Object> v) {
        int n = (int) v.get("rotary_dim");
        int hd = (int) v.get("head_dim");
        if (n % 2 == 0 && n <= hd) {
            return;
        }
        String fraction = arch.configKey("rotary_fraction");
        String source = arch.configKey("rotary_dim") != null ? "rotary_dim " + n
                : fraction != null ? fraction + " " + v.get("rotary_fraction") + " × head_dim " + hd + " gives " + n
                + " rotary dimensions" : "rotary_dim " + n;
        throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + "; rotary embeddings need an even number"
                + " of dimensions (pairs i, i + n/2), at most head_dim " + hd);
    }

    private static boolean sameValue(JsonNode actual, JsonNode required) {
        if (required.isNumber()) {
            return actual.isNumber() && actual.asDouble() == required.asDouble();
        }
        return required.equals(actual);
    }

    private static Object read(ObjectNode config, Architecture arch, String field, Map<String, Object> done) {
        Architecture.ConfigField spec = arch.configField(field);
        JsonNode value = spec.key() == null ? null : config.get(spec.key());
        String source = spec.key() == null ? field : spec.key();
        if (value != null && value.isNull() && NULL_MEANS_NONE.contains(field)) {
            return 0.0; // transformers: an explicit null cap (or clip) means none
        }
        if (value != null && value.isTextual() && !field.equals("activation") && !field.equals("dense_layers")) {
            // text is for the table's derived defaults ("hidden_size / num_heads"), never a config value
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + " must be "
                    + (field.equals("norm_eps") || field.equals("rope_theta") ? "a number" : "a whole number")
                    + ", got the text " + value);
        }
        if (value != null && value.isNull() && spec.ifNull() != null) {
            value = spec.ifNull();
            source = arch.table() + " meaning of null for " + field;
        } else if (value == null || value.isNull()) {
            if (spec.defaultValue() == null) {
                throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": missing key '" + spec.key() + "' ("
                        + arch.table() + " reads " + field + " from it)");
            }
            value = spec.defaultValue();
            source = arch.table() + " default for " + field;
            if (value.isNull() && NULL_MEANS_NONE.contains(field)) {
                return 0.0;
            }
        }
        return switch (field) {
            case "activation" -> {
                if (!value.isTextual()) {
                    throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + " must be a string, got "
                            + value);
                }
                yield value.asText();
            }
            case "dense_layers" -> {
                List<Integer> layers = new ArrayList<>();
                if (!value.isArray()) {
                    throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source
                            + " must be a list of layer indices, got " + value);
                }
                for (JsonNode n : value) {
                    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                        throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source
                                + " must be a list of layer indices, got " + value);
                    }
                    layers.add(n.asInt());
                }
                yield List.copyOf(layers);
            }
            case "tie_word_embeddings", "attention_bias", "mlp_bias", "parallel_residual", "norm_topk_prob" -> {
                if (!value.isBoolean()) {
                    throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source
                            + " must be true or false, got " + value);
                }
                yield value.asBoolean();
            }
            case "norm_eps", "rope_theta" -> {
                double d = number(value, source, done);
                boolean eps = field.equals("norm_eps");
                if (!(eps ? d > 0 : d >= 0) || Double.isInfinite(d)) {
                    throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + " is " + value
                            + "; allowed: a finite number " + (eps ? "> 0" : ">= 0"));
                }
                yield d;
            }
            case "rotary_fraction", "query_pre_attn_scalar", "attn_softcap", "final_softcap", "clip_qkv",
                 "rope_local_theta" -> number(value, source, done);
            case "rotary_dim" -> {
                if (!value.isTextual()) {
                    yield whole(field, value, source, done);
                }
                double d = number(value, source, done);
                if (!(d >= 0) || d > Integer.MAX_VALUE) {
                    throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source
                            + " must be a non-negative number of dimensions, got " + value);
                }
                yield (int) d; // a fraction of head_dim truncates, as transformers' int(head_dim * pct)
            }
            default -> whole(field, value, source, done);
        };
    }

    /** A whole-number field: at least 1 for sizes and counts ({@link #POSITIVE}), else at least 0. */
    private static int whole(String field, JsonNode value, String source, Map<String, Object> done) {
        double d = number(value, source, done);
        int min = POSITIVE.contains(field) ? 1 : 0;
        if (d != Math.rint(d) || d < min || d > Integer.MAX_VALUE) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + " is "
                    + (value.isTextual() ? value.asText() + " = " + d : value) + "; allowed: a whole number from "
                    + min + " to " + Integer.MAX_VALUE);
        }
        return (int) d;
    }

    /** A number, or a table default such as {@code hidden_size / num_heads} or {@code 4 * hidden_size}. */
    private static double number(JsonNode value, String source, Map<String, Object> done) {
        if (value.isNumber()) {
            return value.asDouble();
        }
        if (value.isTextual()) {
            String[] parts = value.asText().trim().split("\\s+");
            if (parts.length == 1) {
                return term(parts[0], source, done);
            }
            if (parts.length == 3 && (parts[1].equals("*") || parts[1].equals("/"))) {
                double a = term(parts[0], source, done);
                double b = term(parts[2], source, done);
                return parts[1].equals("*") ? a * b : a / b;
            }
        }
        throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + " must be a number, got " + value);
    }

    private static double term(String t, String source, Map<String, Object> done) {
        Object v = done.get(t);
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        try {
            return Double.parseDouble(t);
        } catch (NumberFormatException e) {
            throw NeurotomeException.badCheckpoint(source + ": '" + t + "' is neither a number nor an earlier field");
        }
    }

    private static Integer tokenId(ObjectNode config, String key) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isArray() && !v.isEmpty()) {
            v = v.get(0);
        }
        if (!v.isIntegralNumber()) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + key + " must be a token id, got " + v);
        }
        return v.asInt();
    }

    private static List<Integer> tokenIds(ObjectNode config, String key) {
        JsonNode v = config.get(key);
        List<Integer> ids = new ArrayList<>();
        if (v == null || v.isNull()) {
            return ids;
        }
        for (JsonNode n : v.isArray() ? v : List.of(v)) {
            if (!n.isIntegralNumber()) {
                throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + key + " must be a token id or a list of"
                        + " them, got " + v);
            }
            ids.add(n.asInt());
        }
        return ids;
    }

    /** The value of a boolean field named in {@link #FLAG_FIELDS}. */
    boolean flag(String field) {
        return switch (field) {
            case "attention_bias" -> attentionBias;
            case "mlp_bias" -> mlpBias;
            default -> throw new IllegalArgumentException("not a flag field: " + field);
        };
    }

    /**
     * Whether layer {@code l} is a local one: the sliding window covers it (when there is one)
     * and, in Gemma 3, it rotates by the local base without scaling. Every layer of most
     * families; Gemma 2's even layers; Gemma 3's all but every {@code sliding_window_pattern}-th.
     */
    public boolean localLayer(int l) {
        return architecture().windowed(l, features.windowPattern());
    }

    /**
     * The FFN neurons of layer {@code l}: {@code ffnSize} in a dense layer; in a sparse one every
     * expert's units, expert-major, then the shared expert's ({@link Experts#neurons()}).
     */
    public int ffnWidth(int l) {
        return features.experts().sparse(l) ? features.experts().neurons() : ffnSize;
    }

    /** The FFN neurons of every layer together. */
    public long totalNeurons() {
        long n = 0;
        for (int l = 0; l < numLayers; l++) {
            n += ffnWidth(l);
        }
        return n;
    }

    /** The widest layer's FFN neurons. */
    public int maxFfnWidth() {
        int w = 0;
        for (int l = 0; l < numLayers; l++) {
            w = Math.max(w, ffnWidth(l));
        }
        return w;
    }

    /** Whether layer {@code l} routes its positions to experts. */
    public boolean sparseLayer(int l) {
        return features.experts().sparse(l);
    }

    /** Query heads that share one key/value head (1 without grouped-query attention). */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    private static boolean nullMeansNoWindow(Architecture arch) {
        Architecture.ConfigField spec = arch.configField("sliding_window");
        JsonNode meaning = spec.ifNull() != null ? spec.ifNull() : spec.defaultValue();
        return meaning != null && meaning.isNumber() && meaning.asInt() == 0;
    }

    /** The family table of this config. */
    public Architecture architecture() {
        return Architecture.forModelType(modelType);
    }

    /**
     * A {@code config.json} that reads back as this config: {@code model_type} plus every
     * field the family table reads from a key, under that key.
     */
    public ObjectNode toConfigJson() {
        Architecture arch = architecture();
        ObjectNode out = Json.MAPPER.createObjectNode();
        out.put("model_type", modelType);
        Map<String, Object> values = new HashMap<>();
        values.put("num_layers", numLayers);
        values.put("num_heads", numHeads);
        values.put("num_kv_heads", numKvHeads);
        values.put("hidden_size", hiddenSize);
        values.put("head_dim", headDim);
        values.put("ffn_size", ffnSize);
        values.put("vocab_size", vocabSize);
        values.put("max_positions", maxPositions);
        values.put("norm_eps", normEps);
        values.put("rope_theta", ropeTheta);
        values.put("rotary_dim", rotaryDim);
        // transformers windows attention whenever sliding_window is not null, so a 0 ("no window" here)
        // would mask every key there: write null wherever the table reads null back as no window
        values.put("sliding_window", slidingWindow == 0 && nullMeansNoWindow(arch) ? null : slidingWindow);
        values.put("activation", activation.configName());
        values.put("tie_word_embeddings", tied);
        values.put("attention_bias", attentionBias);
        values.put("mlp_bias", mlpBias);
        values.put("rotary_fraction", headDim == 0 ? 0.0 : (double) rotaryDim / headDim);
        values.put("parallel_residual", features.parallelResidual());
        values.put("query_pre_attn_scalar", features.queryPreAttnScalar());
        values.put("attn_softcap", features.attnSoftcap() == 0 ? null : features.attnSoftcap());
        values.put("final_softcap", features.finalSoftcap() == 0 ? null : features.finalSoftcap());
        values.put("clip_qkv", features.clipQkv() == 0 ? null : features.clipQkv());
        values.put("rope_local_theta", features.ropeLocalTheta());
        values.put("sliding_window_pattern", features.windowPattern());
        Experts e = features.experts();
        values.put("num_experts", e.count());
        values.put("experts_per_token", e.topK());
        values.put("expert_ffn_size", e.width());
        values.put("shared_expert_ffn_size", e.sharedWidth());
        values.put("norm_topk_prob", e.renormalize());
        values.put("decoder_sparse_step", e.sparseStep());
        values.put("dense_layers", e.denseLayers());
        for (String field : FIELD_ORDER) {
            String key = arch.configField(field).key();
            if (key != null) {
                out.set(key, Json.MAPPER.valueToTree(values.get(field)));
            }
        }
        if (features.ropeScaling().type() != RopeScaling.Type.NONE) {
            out.set("rope_scaling", features.ropeScaling().toJson());
        }
        if (bosTokenId != null) {
            out.put("bos_token_id", bosTokenId);
        }
        if (eosTokenIds.size() == 1) {
            out.put("eos_token_id", eosTokenIds.getFirst());
        } else if (!eosTokenIds.isEmpty()) {
            eosTokenIds.forEach(out.putArray("eos_token_id")::add);
        }
        return out;
    }
}
