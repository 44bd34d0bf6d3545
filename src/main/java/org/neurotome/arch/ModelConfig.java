package org.neurotome.arch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Checkpoint;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape and hyper-parameters of one model, read from {@code config.json} through its
 * family's {@link Architecture} table (which key means what, and the defaults
 * transformers' {@code *Config} classes apply when a key is absent or null).
 *
 * @param rotaryDim     dimensions of each head that rotary embeddings rotate (0: none)
 * @param slidingWindow Mistral's attention window (0: unlimited)
 * @param tied          the LM head is the token-embedding matrix
 * @param bosTokenId    null when config.json gives none
 * @param eosTokenIds   empty when config.json gives none
 */
public record ModelConfig(String modelType, int numLayers, int numHeads, int numKvHeads, int headDim,
                          int hiddenSize, int ffnSize, int vocabSize, int maxPositions, double normEps,
                          double ropeTheta, int rotaryDim, int slidingWindow, Activation activation, boolean tied,
                          boolean attentionBias, boolean mlpBias, Integer bosTokenId, List<Integer> eosTokenIds) {

    /** The fields every architecture table's {@code config} section defines, in evaluation order. */
    static final List<String> TABLE_FIELDS = List.of("num_layers", "num_heads", "num_kv_heads", "hidden_size",
            "head_dim", "ffn_size", "vocab_size", "max_positions", "norm_eps", "rope_theta", "rotary_dim",
            "sliding_window", "activation", "tie_word_embeddings", "attention_bias", "mlp_bias");
    /** The boolean fields a tensor template may depend on ({@code when:}). */
    static final List<String> FLAG_FIELDS = List.of("attention_bias", "mlp_bias");

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
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

    private static void check(boolean ok, String what, Object value) {
        if (!ok) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + what + " is " + value
                    + ", which is not a valid value");
        }
    }

    /** The fields that must be at least 1 (the others of {@link #TABLE_FIELDS} that are whole numbers may be 0). */
    private static final List<String> POSITIVE = List.of("num_layers", "num_heads", "num_kv_heads", "hidden_size",
            "head_dim", "ffn_size", "vocab_size", "max_positions");

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
        for (String field : TABLE_FIELDS) {
            v.put(field, read(config, arch, field, v));
        }
        int hidden = (int) v.get("hidden_size");
        int heads = (int) v.get("num_heads");
        int kvHeads = (int) v.get("num_kv_heads");
        if (heads % kvHeads != 0) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + name(arch, "num_kv_heads") + " is " + kvHeads
                    + ", which does not divide " + name(arch, "num_heads") + " " + heads);
        }
        int headDim = (int) v.get("head_dim");
        int rotary = (int) v.get("rotary_dim");
        if (rotary > headDim || rotary % 2 != 0) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + name(arch, "rotary_dim") + " is " + rotary
                    + "; allowed: an even number of dimensions, at most the head size " + headDim);
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
                tokenIds(config, "eos_token_id").stream().map(id -> inVocabulary(id, "eos_token_id", v)).toList());
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
        if (value != null && value.isTextual() && !field.equals("activation")) {
            // text is for the table's derived defaults ("hidden_size / num_heads"), never a config value
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + " must be "
                    + (field.equals("norm_eps") || field.equals("rope_theta") ? "a number" : "a whole number")
                    + ", got the text " + value);
        }
        if (value == null || value.isNull()) {
            if (spec.defaultValue() == null) {
                throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": missing key '" + spec.key() + "' ("
                        + arch.table() + " reads " + field + " from it)");
            }
            value = spec.defaultValue();
            source = arch.table() + " default for " + field;
        }
        return switch (field) {
            case "activation" -> {
                if (!value.isTextual()) {
                    throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + " must be a string, got "
                            + value);
                }
                yield value.asText();
            }
            case "tie_word_embeddings", "attention_bias", "mlp_bias" -> {
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
            default -> {
                double d = number(value, source, done);
                int min = POSITIVE.contains(field) ? 1 : 0;
                if (d != Math.rint(d) || d < min || d > Integer.MAX_VALUE) {
                    throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": " + source + " is "
                            + (value.isTextual() ? value.asText() + " = " + d : value) + "; allowed: a whole number from "
                            + min + " to " + Integer.MAX_VALUE);
                }
                yield (int) d;
            }
        };
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

    /** Query heads that share one key/value head (1 without grouped-query attention). */
    public int groupSize() {
        return numHeads / numKvHeads;
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
        values.put("sliding_window", slidingWindow);
        values.put("activation", activation.configName());
        values.put("tie_word_embeddings", tied);
        values.put("attention_bias", attentionBias);
        values.put("mlp_bias", mlpBias);
        for (String field : TABLE_FIELDS) {
            String key = arch.configField(field).key();
            if (key != null) {
                out.set(key, Json.MAPPER.valueToTree(values.get(field)));
            }
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
