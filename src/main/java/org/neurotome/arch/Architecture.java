package org.neurotome.arch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.TensorInfo;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * One model family as data: the table {@code arch/<model_type>.yaml} maps canonical
 * {@link Role}s to tensor-name templates ({@code {l}} is the layer index) and states the
 * layout facts the forward pass and the weight editors need: how matrices are stored
 * ({@link WeightLayout}), the norm, a gated or plain MLP, a sequential or parallel block,
 * the rotary style, and which {@code config.json} keys give each {@link ModelConfig}
 * field. This class is the only place tensor names are known (the mergekit
 * {@code _data/architectures/*.json} idea, made strict: unknown keys in a table and missing
 * or unexpected tensors in a checkpoint are errors naming the table and the tensor).
 */
public final class Architecture {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Map<String, Architecture> TABLES = new ConcurrentHashMap<>();
    private static final List<String> TOP_KEYS = List.of("model_type", "reference", "config", "requires", "layout",
            "tensors", "ignored");
    private static final List<String> LAYOUT_KEYS = List.of("weights", "norm", "mlp", "block", "rotary",
            "optional_prefix");

    /** How one {@link ModelConfig} field is read: a config.json key, a default, or both. */
    record ConfigField(String key, JsonNode defaultValue) {
    }

    /** A tensor-name template, present only when the config flag {@code when} is true (if set). */
    record Template(String name, String when) {
    }

    private final String modelType;
    private final String table;
    private final String reference;
    private final Map<String, ConfigField> configFields;
    private final Map<String, JsonNode> requires;
    private final WeightLayout weightLayout;
    private final NormKind norm;
    private final boolean gatedMlp;
    private final boolean parallelBlock;
    private final RotaryStyle rotary;
    private final String optionalPrefix;
    private final boolean prefixStripped;
    private final Map<Role, Template> tensors;
    private final List<String> ignored;

    private Architecture(String modelType, String table, String reference, Map<String, ConfigField> configFields,
                         Map<String, JsonNode> requires, WeightLayout weightLayout, NormKind norm, boolean gatedMlp,
                         boolean parallelBlock, RotaryStyle rotary, String optionalPrefix, boolean prefixStripped,
                         Map<Role, Template> tensors, List<String> ignored) {
        this.modelType = modelType;
        this.table = table;
        this.reference = reference;
        this.configFields = configFields;
        this.requires = requires;
        this.weightLayout = weightLayout;
        this.norm = norm;
        this.gatedMlp = gatedMlp;
        this.parallelBlock = parallelBlock;
        this.rotary = rotary;
        this.optionalPrefix = optionalPrefix;
        this.prefixStripped = prefixStripped;
        this.tensors = tensors;
        this.ignored = ignored;
    }

    /** The model types that have a table, in the order of {@code arch/index.yaml}. */
    public static List<String> supported() {
        JsonNode index = readYaml("arch/index.yaml");
        List<String> families = new ArrayList<>();
        index.path("families").forEach(n -> families.add(n.asText()));
        return Collections.unmodifiableList(families);
    }

    /** The table of {@code modelType}; an unknown type is a BAD_CHECKPOINT error listing the supported ones. */
    public static Architecture forModelType(String modelType) {
        if (!supported().contains(modelType)) {
            throw NeurotomeException.badCheckpoint(Checkpoint.CONFIG + ": model_type '" + modelType
                    + "' is not supported; supported: " + String.join(", ", supported()));
        }
        return TABLES.computeIfAbsent(modelType, Architecture::load);
    }

    /**
     * The table of the checkpoint's {@code model_type}, with tensor names as that checkpoint
     * spells them (e.g. GPT-2 files saved without the {@code transformer.} prefix).
     */
    public static Architecture forCheckpoint(Checkpoint checkpoint) {
        JsonNode type = checkpoint.config().get("model_type");
        if (type == null || !type.isTextual()) {
            throw NeurotomeException.badCheckpoint(checkpoint.dir().resolve(Checkpoint.CONFIG)
                    + ": needs a \"model_type\" string; supported: " + String.join(", ", supported()));
        }
        Architecture arch = forModelType(type.asText());
        if (arch.optionalPrefix.isEmpty()) {
            return arch;
        }
        boolean prefixed = checkpoint.tensors().keySet().stream().anyMatch(n -> n.startsWith(arch.optionalPrefix));
        return prefixed ? arch : arch.withPrefixStripped();
    }

    private Architecture withPrefixStripped() {
        return new Architecture(modelType, table, reference, configFields, requires, weightLayout, norm, gatedMlp,
                parallelBlock, rotary, optionalPrefix, true, tensors, ignored);
    }

    public String modelType() {
        return modelType;
    }

    /** The resource path of the table, e.g. {@code arch/gpt2.yaml}, for messages. */
    public String table() {
        return table;
    }

    /** The modeling file of transformers this table mirrors. */
    public String reference() {
        return reference;
    }

    public WeightLayout weightLayout() {
        return weightLayout;
    }

    public NormKind norm() {
        return norm;
    }

    /** SwiGLU-style {@code down(act(gate·x) ⊙ up·x)} rather than {@code down(act(up·x + b))}. */
    public boolean gatedMlp() {
        return gatedMlp;
    }

    /** GPT-J's parallel block {@code x + attn(ln1(x)) + mlp(ln1(x))}, with no second norm. */
    public boolean parallelBlock() {
        return parallelBlock;
    }

    public RotaryStyle rotary() {
        return rotary;
    }

    /** Whether q, k and v are one fused matrix ({@link Role#QKV}, GPT-2's {@code c_attn}). */
    public boolean fusedQkv() {
        return tensors.containsKey(Role.QKV);
    }

    /** Whether the table names a tensor for {@code role} at all. */
    public boolean declares(Role role) {
        return tensors.containsKey(role);
    }

    /**
     * Whether a checkpoint with {@code config} holds the tensor of {@code role}: the table
     * declares it, its {@code when} flag is on, and for {@link Role#LM_HEAD} the embeddings
     * are not tied.
     */
    public boolean has(Role role, ModelConfig config) {
        Template t = tensors.get(role);
        if (t == null) {
            return false;
        }
        if (role == Role.LM_HEAD && config.tied()) {
            return false;
        }
        return t.when() == null || config.flag(t.when());
    }

    /** The name of a model-level tensor ({@code role.perLayer()} false). */
    public String tensorName(Role role) {
        if (role.perLayer()) {
            throw new IllegalArgumentException(role + " exists per layer; pass the layer index");
        }
        return resolve(template(role).name());
    }

    /** The name of {@code role}'s tensor in {@code layer}. */
    public String tensorName(Role role, int layer) {
        if (!role.perLayer()) {
            throw new IllegalArgumentException(role + " is not per layer");
        }
        return resolve(template(role).name().replace("{l}", Integer.toString(layer)));
    }

    private Template template(Role role) {
        Template t = tensors.get(role);
        if (t == null) {
            throw new IllegalArgumentException(table + " declares no tensor for role '" + role.key() + "'");
        }
        return t;
    }

    private String resolve(String name) {
        return prefixStripped && name.startsWith(optionalPrefix) ? name.substring(optionalPrefix.length()) : name;
    }

    /**
     * The shape of {@code role}'s tensor as the checkpoint stores it: layer matrices follow
     * {@link #weightLayout()}; the embeddings and the LM head are [rows, hidden].
     */
    public long[] shape(Role role, ModelConfig c) {
        long d = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long ffn = c.ffnSize();
        return switch (role) {
            case EMBED -> new long[] {c.vocabSize(), d};
            case POS_EMBED -> new long[] {c.maxPositions(), d};
            case LN1, LN1_BIAS, LN2, LN2_BIAS, LN_F, LN_F_BIAS, O_BIAS, DOWN_BIAS -> new long[] {d};
            case Q -> matrix(q, d);
            case K, V -> matrix(kv, d);
            case QKV -> matrix(q + 2 * kv, d);
            case O -> matrix(d, q);
            case GATE, UP -> matrix(ffn, d);
            case DOWN -> matrix(d, ffn);
            case Q_BIAS -> new long[] {q};
            case K_BIAS, V_BIAS -> new long[] {kv};
            case QKV_BIAS -> new long[] {q + 2 * kv};
            case GATE_BIAS, UP_BIAS -> new long[] {ffn};
            case LM_HEAD -> new long[] {c.vocabSize(), d};
            case LM_HEAD_BIAS -> new long[] {c.vocabSize()};
        };
    }

    /** A layer matrix mapping {@code in} to {@code out} features, in this family's storage order. */
    private long[] matrix(long out, long in) {
        return weightLayout == WeightLayout.LINEAR ? new long[] {out, in} : new long[] {in, out};
    }

    /** The roles present in a checkpoint with {@code config}, model-level first, then per layer. */
    public List<Role> roles(ModelConfig config) {
        return Arrays.stream(Role.values()).filter(r -> has(r, config)).toList();
    }

    /** Every tensor a checkpoint with {@code config} must hold, in canonical order. */
    public List<String> tensorNames(ModelConfig config) {
        List<String> names = new ArrayList<>();
        for (Role r : roles(config)) {
            if (!r.perLayer()) {
                names.add(tensorName(r));
            }
        }
        for (int l = 0; l < config.numLayers(); l++) {
            for (Role r : roles(config)) {
                if (r.perLayer()) {
                    names.add(tensorName(r, l));
                }
            }
        }
        return names;
    }

    /**
     * Checks that {@code checkpoint} holds exactly this family's tensors for {@code config}
     * with the right shapes and floating dtypes. Buffers listed under {@code ignored}, and an
     * {@code lm_head.weight} beside tied embeddings, are allowed and unused.
     */
    public void validate(Checkpoint checkpoint, ModelConfig config) {
        Set<String> expected = new LinkedHashSet<>();
        for (Role r : roles(config)) {
            int layers = r.perLayer() ? config.numLayers() : 1;
            for (int l = 0; l < layers; l++) {
                String name = r.perLayer() ? tensorName(r, l) : tensorName(r);
                expected.add(name);
                if (!checkpoint.has(name)) {
                    throw NeurotomeException.badCheckpoint(checkpoint.dir() + ": missing tensor '" + name + "' (role '"
                            + r.key() + "' of " + table + ")");
                }
                TensorInfo t = checkpoint.info(name);
                long[] want = shape(r, config);
                if (!Arrays.equals(t.shape(), want)) {
                    throw NeurotomeException.badCheckpoint(t.file() + ": tensor '" + name + "' has shape "
                            + t.shapeString() + ", but config.json implies " + Arrays.toString(want) + " (role '"
                            + r.key() + "' of " + table + ")");
                }
                if (!t.dtype().isFloat()) {
                    throw NeurotomeException.badCheckpoint(t.file() + ": tensor '" + name + "' has dtype " + t.dtype()
                            + "; weights must be F32, F16, BF16 or F64");
                }
            }
        }
        List<Pattern> skip = new ArrayList<>();
        for (String ig : ignored) {
            skip.add(Pattern.compile(Pattern.quote(resolve(ig)).replace("{l}", "\\E[0-9]+\\Q")));
        }
        if (config.tied() && declares(Role.LM_HEAD)) {
            skip.add(Pattern.compile(Pattern.quote(tensorName(Role.LM_HEAD))));
        }
        for (String name : checkpoint.tensors().keySet()) {
            if (!expected.contains(name) && skip.stream().noneMatch(p -> p.matcher(name).matches())) {
                int layer = layerOf(name, config);
                if (layer >= config.numLayers()) {
                    throw NeurotomeException.badCheckpoint(checkpoint.dir() + ": tensor '" + name + "' belongs to layer "
                            + layer + ", but config.json's " + configKey("num_layers") + " is " + config.numLayers()
                            + "; the config and the weights disagree");
                }
                throw NeurotomeException.badCheckpoint(checkpoint.dir() + ": unexpected tensor '" + name + "': "
                        + table + " with this config.json expects only " + expected.size()
                        + " tensors (is model_type or a bias/tie setting wrong?)");
            }
        }
    }

    /** The layer a per-layer tensor name belongs to, or -1 when it is no per-layer tensor of this family. */
    private int layerOf(String name, ModelConfig config) {
        String mark = "2147483647";
        for (Role r : roles(config)) {
            if (!r.perLayer()) {
                continue;
            }
            String probe = tensorName(r, Integer.MAX_VALUE);
            int at = probe.indexOf(mark);
            String head = probe.substring(0, at);
            String tail = probe.substring(at + mark.length());
            if (name.length() > head.length() + tail.length() && name.startsWith(head) && name.endsWith(tail)) {
                String digits = name.substring(head.length(), name.length() - tail.length());
                if (digits.matches("[0-9]{1,9}")) {
                    return Integer.parseInt(digits);
                }
            }
        }
        return -1;
    }

    /**
     * The config.json key that holds a table field such as {@code ffn_size} or
     * {@code head_dim}, or null when the family's configs have none (the value is derived).
     */
    public String configKey(String field) {
        return configField(field).key();
    }

    ConfigField configField(String field) {
        ConfigField f = configFields.get(field);
        if (f == null) {
            throw NeurotomeException.badCheckpoint(table + ": config section lacks the field '" + field + "'");
        }
        return f;
    }

    Map<String, JsonNode> requires() {
        return requires;
    }

    private static Architecture load(String modelType) {
        String table = "arch/" + modelType + ".yaml";
        JsonNode root = readYaml(table);
        checkKeys(root, TOP_KEYS, table, "the top level");
        String declared = text(root, "model_type", table);
        if (!declared.equals(modelType)) {
            throw NeurotomeException.badCheckpoint(table + ": model_type is '" + declared + "', expected '" + modelType + "'");
        }
        String reference = text(root, "reference", table);

        JsonNode config = object(root, "config", table);
        checkKeys(config, ModelConfig.TABLE_FIELDS, table, "config");
        Map<String, ConfigField> fields = new LinkedHashMap<>();
        for (String f : ModelConfig.TABLE_FIELDS) {
            JsonNode spec = config.get(f);
            if (spec == null) {
                throw NeurotomeException.badCheckpoint(table + ": config lacks '" + f + "'");
            }
            if (spec.isTextual()) {
                fields.put(f, new ConfigField(spec.asText(), null));
            } else if (spec.isObject()) {
                checkKeys(spec, List.of("key", "default"), table, "config." + f);
                JsonNode key = spec.get("key");
                fields.put(f, new ConfigField(key == null ? null : key.asText(), spec.get("default")));
            } else {
                throw NeurotomeException.badCheckpoint(table + ": config." + f
                        + " must be a config.json key or {key, default}, got " + spec);
            }
        }

        Map<String, JsonNode> requires = new LinkedHashMap<>();
        JsonNode req = root.get("requires");
        if (req != null) {
            for (Iterator<Map.Entry<String, JsonNode>> it = req.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                requires.put(e.getKey(), e.getValue());
            }
        }

        JsonNode layout = object(root, "layout", table);
        checkKeys(layout, LAYOUT_KEYS, table, "layout");
        WeightLayout weights = choice(layout, "weights", table, Map.of("linear", WeightLayout.LINEAR,
                "conv1d", WeightLayout.CONV1D));
        NormKind norm = choice(layout, "norm", table, Map.of("rmsnorm", NormKind.RMSNORM,
                "layernorm", NormKind.LAYERNORM));
        boolean gated = choice(layout, "mlp", table, Map.of("gated", true, "plain", false));
        boolean parallel = choice(layout, "block", table, Map.of("parallel", true, "sequential", false));
        RotaryStyle rotary = choice(layout, "rotary", table, Map.of("none", RotaryStyle.NONE,
                "rotate_half", RotaryStyle.ROTATE_HALF, "interleaved", RotaryStyle.INTERLEAVED));
        String prefix = layout.path("optional_prefix").asText("");

        JsonNode tensorsNode = object(root, "tensors", table);
        Map<Role, Template> tensors = new EnumMap<>(Role.class);
        for (Iterator<Map.Entry<String, JsonNode>> it = tensorsNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Role role = Role.ofKey(e.getKey());
            if (role == null) {
                throw NeurotomeException.badCheckpoint(table + ": unknown role '" + e.getKey() + "' in tensors; allowed: "
                        + Role.allowedKeys());
            }
            JsonNode v = e.getValue();
            Template t;
            if (v.isTextual()) {
                t = new Template(v.asText(), null);
            } else if (v.isObject()) {
                checkKeys(v, List.of("name", "when"), table, "tensors." + e.getKey());
                String when = v.path("when").asText(null);
                if (when != null && !ModelConfig.FLAG_FIELDS.contains(when)) {
                    throw NeurotomeException.badCheckpoint(table + ": tensors." + e.getKey() + ".when is '" + when
                            + "'; allowed: " + String.join(", ", ModelConfig.FLAG_FIELDS));
                }
                t = new Template(text(v, "name", table), when);
            } else {
                throw NeurotomeException.badCheckpoint(table + ": tensors." + e.getKey()
                        + " must be a name template or {name, when}");
            }
            if (role.perLayer() != t.name().contains("{l}")) {
                throw NeurotomeException.badCheckpoint(table + ": tensors." + e.getKey() + " '" + t.name() + "' "
                        + (role.perLayer() ? "needs" : "must not contain") + " the layer placeholder {l}");
            }
            tensors.put(role, t);
        }
        checkRoles(tensors, gated, norm, table);

        List<String> ignored = new ArrayList<>();
        root.path("ignored").forEach(n -> ignored.add(n.asText()));
        return new Architecture(modelType, table, reference, Collections.unmodifiableMap(fields),
                Collections.unmodifiableMap(requires), weights, norm, gated, parallel, rotary, prefix, false,
                Collections.unmodifiableMap(tensors), List.copyOf(ignored));
    }

    /** The roles every table must declare, so a forward pass never meets a missing weight. */
    private static void checkRoles(Map<Role, Template> tensors, boolean gated, NormKind norm, String table) {
        List<Role> required = new ArrayList<>(List.of(Role.EMBED, Role.LN1, Role.O, Role.UP, Role.DOWN, Role.LN_F,
                Role.LM_HEAD));
        if (gated) {
            required.add(Role.GATE);
        }
        if (norm == NormKind.LAYERNORM) {
            required.addAll(List.of(Role.LN1_BIAS, Role.LN_F_BIAS));
        }
        for (Role r : required) {
            if (!tensors.containsKey(r)) {
                throw NeurotomeException.badCheckpoint(table + ": tensors lacks the role '" + r.key() + "'");
            }
        }
        boolean split = tensors.containsKey(Role.Q) && tensors.containsKey(Role.K) && tensors.containsKey(Role.V);
        if (split == tensors.containsKey(Role.QKV)) {
            throw NeurotomeException.badCheckpoint(table + ": tensors needs either q, k and v or qkv, not "
                    + (split ? "both" : "neither"));
        }
    }

    private static JsonNode readYaml(String resource) {
        try (InputStream in = Architecture.class.getResourceAsStream("/" + resource)) {
            if (in == null) {
                throw NeurotomeException.badCheckpoint(resource + ": missing from the neurotome build");
            }
            JsonNode node = YAML.readTree(in);
            if (node == null || !node.isObject()) {
                throw NeurotomeException.badCheckpoint(resource + ": must be a YAML mapping");
            }
            return node;
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(resource + ": cannot read: " + NeurotomeException.reason(e));
        }
    }

    private static void checkKeys(JsonNode node, List<String> allowed, String table, String where) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw NeurotomeException.badCheckpoint(table + ": unknown key '" + k + "' in " + where + "; allowed: "
                        + String.join(", ", allowed));
            }
        }
    }

    private static JsonNode object(JsonNode node, String key, String table) {
        JsonNode v = node.get(key);
        if (v == null || !v.isObject()) {
            throw NeurotomeException.badCheckpoint(table + ": needs a '" + key + "' mapping");
        }
        return (ObjectNode) v;
    }

    private static String text(JsonNode node, String key, String table) {
        JsonNode v = node.get(key);
        if (v == null || !v.isTextual()) {
            throw NeurotomeException.badCheckpoint(table + ": needs a '" + key + "' string");
        }
        return v.asText();
    }

    private static <T> T choice(JsonNode node, String key, String table, Map<String, T> options) {
        String v = text(node, key, table);
        T t = options.get(v);
        if (t == null) {
            throw NeurotomeException.badCheckpoint(table + ": layout." + key + " is '" + v + "'; allowed: "
                    + String.join(", ", new java.util.TreeSet<>(options.keySet())));
        }
        return t;
    }

    @Override
    public String toString() {
        return table;
    }
}
