package org.neurotome.arch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every family table reads config.json as the family's transformers configuration class does:
 * for each key a table reads with a default, a config without the key (and one with the key
 * null) runs with the value transformers would use, and a key the table requires is refused
 * when absent rather than guessed; the keys a table requires a value of have that value as
 * transformers' default. The transformers side is the list in test resources
 * {@code arch/transformers-defaults.yaml} (its header says where it was read); every table
 * must be in it, with every key it reads.
 */
class FamilyDefaultsTest {
    private static final JsonNode LIST = read();
    /** How each table field is seen on a read config. */
    private static final Map<String, Function<ModelConfig, Object>> FIELDS = Map.ofEntries(
            Map.entry("num_layers", ModelConfig::numLayers),
            Map.entry("num_heads", ModelConfig::numHeads),
            Map.entry("num_kv_heads", ModelConfig::numKvHeads),
            Map.entry("hidden_size", ModelConfig::hiddenSize),
            Map.entry("head_dim", ModelConfig::headDim),
            Map.entry("ffn_size", ModelConfig::ffnSize),
            Map.entry("vocab_size", ModelConfig::vocabSize),
            Map.entry("max_positions", ModelConfig::maxPositions),
            Map.entry("norm_eps", ModelConfig::normEps),
            Map.entry("rope_theta", ModelConfig::ropeTheta),
            Map.entry("rotary_dim", ModelConfig::rotaryDim),
            Map.entry("rotary_fraction", c -> (double) c.rotaryDim() / c.headDim()),
            Map.entry("sliding_window", ModelConfig::slidingWindow),
            Map.entry("activation", ModelConfig::activation),
            Map.entry("tie_word_embeddings", ModelConfig::tied),
            Map.entry("attention_bias", ModelConfig::attentionBias),
            Map.entry("mlp_bias", ModelConfig::mlpBias),
            Map.entry("parallel_residual", c -> c.features().parallelResidual()),
            Map.entry("query_pre_attn_scalar", c -> c.features().queryPreAttnScalar()),
            Map.entry("attn_softcap", c -> c.features().attnSoftcap()),
            Map.entry("final_softcap", c -> c.features().finalSoftcap()),
            Map.entry("clip_qkv", c -> c.features().clipQkv()),
            Map.entry("rope_local_theta", c -> c.features().ropeLocalTheta()),
            Map.entry("sliding_window_pattern", c -> c.features().windowPattern()),
            Map.entry("num_experts", c -> c.features().experts().count()),
            Map.entry("experts_per_token", c -> c.features().experts().topK()),
            Map.entry("expert_ffn_size", c -> c.features().experts().width()),
            Map.entry("shared_expert_ffn_size", c -> c.features().experts().sharedWidth()),
            Map.entry("norm_topk_prob", c -> c.features().experts().renormalize()),
            Map.entry("decoder_sparse_step", c -> c.features().experts().sparseStep()),
            Map.entry("dense_layers", c -> c.features().experts().denseLayers()));

    private static JsonNode read() {
        try (InputStream in = FamilyDefaultsTest.class.getResourceAsStream("/arch/transformers-defaults.yaml")) {
            return new ObjectMapper(new YAMLFactory()).readTree(in);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static List<String> families() {
        return Architecture.supported();
    }

    /** The fields of a table, read from a config.json key. */
    private static List<String> keyedFields(Architecture arch) {
        List<String> fields = new ArrayList<>(ModelConfig.TABLE_FIELDS);
        fields.addAll(ModelConfig.OPTIONAL_FIELDS.keySet());
        return fields.stream().filter(f -> arch.configField(f).key() != null).toList();
    }

    /**
     * The family's transformers default model: every listed key at its absent value, but for
     * the keys the table derives when they are absent (a value written as another key or a product).
     */
    private static ObjectNode defaultModel(Architecture arch, JsonNode keys) {
        ObjectNode config = Json.MAPPER.createObjectNode().put("model_type", arch.modelType());
        List<String> required = keyedFields(arch).stream().filter(f -> arch.configField(f).defaultValue() == null)
                .map(f -> arch.configField(f).key()).toList();
        keys.fields().forEachRemaining(e -> {
            JsonNode absent = e.getValue().get("absent");
            if (!absent.isTextual() || !absent.asText().contains(" ") && !keys.has(absent.asText())) {
                config.set(e.getKey(), absent);
            }
        });
        for (String key : required) {
            if (!config.has(key) && keys.has(key)) {
                config.set(key, value(keys.get(key).get("absent"), config)); // a size written as a product
            }
        }
        return config;
    }

    /** A listed value on {@code config}: a literal, another key's value, or {@code A * B} / {@code A // B}. */
    private static JsonNode value(JsonNode v, ObjectNode config) {
        if (!v.isTextual()) {
            return v;
        }
        String[] p = v.asText().split(" ");
        if (p.length == 1) {
            return config.has(p[0]) ? config.get(p[0]) : v;
        }
        long a = operand(p[0], config);
        long b = operand(p[2], config);
        return Json.MAPPER.getNodeFactory().numberNode(switch (p[1]) {
            case "*" -> a * b;
            case "//" -> Math.floorDiv(a, b);
            default -> throw new IllegalArgumentException("unknown operator in " + v);
        });
    }

    private static long operand(String s, ObjectNode config) {
        return s.matches("\\d+") ? Long.parseLong(s) : config.get(s).asLong();
    }

    /** {@code expected} (a listed value) as the field reads it. */
    private static void assertField(String where, String field, JsonNode expected, ModelConfig c) {
        Object got = FIELDS.get(field).apply(c);
        switch (got) {
            case Boolean b -> assertEquals(expected.asBoolean(), b, where);
            case Activation a -> assertEquals(Activation.ofConfigName(expected.asText()), a, where);
            case Integer i -> assertEquals(expected.asLong(), (long) i, where);
            case List<?> l -> {
                List<Integer> want = new ArrayList<>();
                expected.forEach(n -> want.add(n.asInt()));
                assertEquals(want, l, where);
            }
            default -> assertEquals(expected.asDouble(), (Double) got, 1e-12, where);
        }
    }

    @ParameterizedTest
    @MethodSource("families")
    void everyDefaultIsTransformersOwn(String family) {
        Architecture arch = Architecture.forModelType(family);
        JsonNode keys = LIST.path(family).path("keys");
        assertTrue(keys.isObject() && !keys.isEmpty(), family + ": add the family to arch/transformers-defaults.yaml");
        for (String field : keyedFields(arch)) {
            String key = arch.configField(field).key();
            assertTrue(keys.has(key), family + ": list what transformers makes of '" + key + "' (field " + field + ")");
            assertNotNull(FIELDS.get(field), "a way to see field " + field);
        }
        ObjectNode model = defaultModel(arch, keys);
        ModelConfig.from(model);
        for (String field : keyedFields(arch)) {
            Architecture.ConfigField spec = arch.configField(field);
            JsonNode listed = keys.get(spec.key());
            ObjectNode without = model.deepCopy();
            without.remove(spec.key());
            if (spec.defaultValue() == null) {
                NeurotomeException e = assertThrows(NeurotomeException.class, () -> ModelConfig.from(without),
                        family + ": without '" + spec.key() + "' the table, which has no default, refuses the config");
                assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
                assertTrue(e.getMessage().contains("missing key '" + spec.key() + "'"), e.getMessage());
                continue;
            }
            assertField(family + ": '" + spec.key() + "' absent", field, value(listed.get("absent"), without),
                    ModelConfig.from(without));
            ObjectNode nulled = model.deepCopy();
            nulled.putNull(spec.key());
            JsonNode meaning = listed.has("null") ? listed.get("null") : listed.get("absent");
            assertField(family + ": '" + spec.key() + "' null", field, value(meaning, nulled), ModelConfig.from(nulled));
        }
        for (Map.Entry<String, JsonNode> r : arch.requires().entrySet()) {
            assertTrue(keys.has(r.getKey()), family + ": list transformers' default of required key " + r.getKey());
            assertEquals(r.getValue(), keys.get(r.getKey()).get("absent"), family + ": the table requires "
                    + r.getKey() + " = " + r.getValue() + ", so a config without it must mean the same");
        }
    }
}
