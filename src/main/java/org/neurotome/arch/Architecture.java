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
import java.util.stream.Collectors;

/**
 * One model family as data: the table {@code arch/<model_type>.yaml} maps canonical
 * {@link Role}s to tensor-name templates ({@code {l}} is the layer index) and states the
 * layout facts the forward pass and the weight editors need: how matrices are stored
 * ({@link WeightLayout}), the norm (and whether its weight is applied as {@code 1 + w}), a
 * gated or plain MLP, a sequential or parallel block, the rotary style, a fused qkv laid out
 * in row blocks or per head, an embedding scale, which layers a sliding window covers, the
 * {@code rope_scaling} types the family runs, and which {@code config.json} keys give each
 * {@link ModelConfig} field ({@code {key, default, if_null}}: the default is the one the
 * family's transformers configuration class gives an absent key, and {@code if_null} what that
 * class makes of an explicit null where it differs). Optional roles carry their own layout fact: q/k norms
 * ({@link Role#Q_NORM}), post-norms ({@link Role#LN1_POST}), a fused gate/up projection
 * ({@link Role#GATE_UP}); q/k norms act per head or on the whole projection ({@code qk_norm}), and a
 * block may norm only the outputs of attention and FFN ({@code norm_position: post}, OLMo 2). A table
 * with a {@link Role#ROUTER} is a mixture of experts: its sparse layers ({@link Experts#sparse})
 * hold a router and experts instead of the dense FFN roles, each expert's tensors named with
 * {@code {e}}, or, where the checkpoint was written by transformers v5, all experts of a layer
 * fused into the tensors of the table's {@code fused_experts} section. This class is the only place tensor names are known (the mergekit
 * {@code _data/architectures/*.json} idea, made strict: unknown keys in a table and missing
 * or unexpected tensors in a checkpoint are errors naming the table and the tensor).
 *
 * <p>It is long (about 930 lines) because it is the one reader of the tables: every key of every
 * table is parsed and checked here, with an error naming the table and the key, so that no
 * other class knows a tensor name or a table key.
 */
public final class Architecture {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Map<String, Architecture> TABLES = new ConcurrentHashMap<>();
    private static final List<String> TOP_KEYS = List.of("model_type", "reference", "config", "requires", "layout",
            "rope_scaling", "tensors", "fused_experts", "ignored");
    private static final List<String> LAYOUT_KEYS = List.of("weights", "norm", "norm_weight", "mlp", "block", "rotary",
            "fused_qkv", "embed_scale", "sliding_window_layers", "optional_prefix", "qk_norm", "norm_position");

    /** How one {@link ModelConfig} field is read: a config.json key, a default, or both. */
    /**
     * How a field is read: from config.json key {@code key} (null: derived), else
     * {@code defaultValue} when the key is absent, and {@code ifNull} when the key is an
     * explicit null and the family's transformers class gives null its own meaning (null: the
     * default applies to null too).
     */
    record ConfigField(String key, JsonNode defaultValue, JsonNode ifNull) {
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
    private final Layout layout;
    private final String optionalPrefix;
    private final boolean prefixStripped;
    private final Map<Role, Template> tensors;
    private final Map<Role, Template> fusedExperts;
    private final List<String> ignored;

    /**
     * The layout facts only some families have.
     *
     * @param qkvPerHead        a fused qkv holds each head's q, k and v rows together (GPT-NeoX's
     *                          {@code query_key_value}), rather than all q rows, then k, then v
     * @param normPlusOne       every norm scales by {@code 1 + w} (Gemma 2), not {@code w}
     * @param embedScaled       token embeddings are multiplied by √hidden_size, rounded to float32 (Gemma 2)
     * @param windows           the layers the sliding window applies to
     * @param ropeScaling       the {@code rope_scaling} types the family runs
     * @param qkNormWhole       q/k norms act on the whole q and k projections before the head split
     *                          (OLMo 2, OLMoE), not on each head's head_dim entries (Qwen3, Gemma 3)
     * @param postNormsOnly     a block norms only its attention and FFN outputs, not their inputs (OLMo 2)
     */
    record Layout(boolean qkvPerHead, boolean normPlusOne, boolean embedScaled, WindowLayers windows,
                  List<RopeScaling.Type> ropeScaling, boolean qkNormWhole, boolean postNormsOnly) {
    }

    /**
     * The layers a sliding window (and, where the family has one, the local rotary base)
     * applies to: all, the even ones (Gemma 2), or all but every {@code sliding_window_pattern}-th
     * (Gemma 3: layer l is local unless (l + 1) % pattern is 0).
     */
    enum WindowLayers {
        ALL, EVEN, PATTERN
    }

    private Architecture(String modelType, String table, String reference, Map<String, ConfigField> configFields,
                         Map<String, JsonNode> requires, WeightLayout weightLayout, NormKind norm, boolean gatedMlp,
                         boolean parallelBlock, RotaryStyle rotary, Layout layout, String optionalPrefix,
                         boolean prefixStripped, Map<Role, Template> tensors, Map<Role, Template> fusedExperts,
                         List<String> ignored) {
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
        this.layout = layout;
        this.optionalPrefix = optionalPrefix;
        this.prefixStripped = prefixStripped;
        this.tensors = tensors;
        this.fusedExperts = fusedExperts;
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
        Architecture table = forModelType(type.asText());
        Architecture arch = !table.fusedExperts.isEmpty()
                && checkpoint.tensors().keySet().stream().anyMatch(table::fusedExpertName)
                ? table.withFusedExperts() : table;
        if (arch.optionalPrefix.isEmpty()) {
            return arch;
        }
        boolean prefixed = checkpoint.tensors().keySet().stream().anyMatch(n -> n.startsWith(arch.optionalPrefix));
        return prefixed ? arch : arch.withPrefixStripped();
    }

    private Architecture withPrefixStripped() {
        return new Architecture(modelType, table, reference, configFields, requires, weightLayout, norm, gatedMlp,
                parallelBlock, rotary, layout, optionalPrefix, true, tensors, fusedExperts, ignored);
    }

    /** Whether {@code name} is a layer's fused expert gate/up tensor as transformers v5 writes it. */
    private boolean fusedExpertName(String name) {
        Template t = fusedExperts.get(Role.EXPERTS_GATE_UP);
        String pattern = Pattern.quote(t.name()).replace("{l}", "\\E[0-9]+\\Q");
        return Pattern.matches(pattern, name);
    }

    /**
     * This table reading experts fused per layer (transformers v5's {@code experts.gate_up_proj}
     * [E, 2I, D] and {@code experts.down_proj} [E, D, I]) under the names of its
     * {@code fused_experts} section instead of one set of tensors per expert.
     */
    private Architecture withFusedExperts() {
        Map<Role, Template> t = new EnumMap<>(tensors);
        t.remove(Role.EXPERT_GATE);
        t.remove(Role.EXPERT_UP);
        t.remove(Role.EXPERT_DOWN);
        t.putAll(fusedExperts);
        return new Architecture(modelType, table, reference, configFields, requires, weightLayout, norm, gatedMlp,
                parallelBlock, rotary, layout, optionalPrefix, prefixStripped, Collections.unmodifiableMap(t), Map.of(),
                ignored);
    }

    /** Whether the family routes positions to experts (it has a {@link Role#ROUTER}). */
    public boolean sparse() {
        return tensors.containsKey(Role.ROUTER);
    }

    /** Whether this checkpoint's experts are fused per layer ({@link Role#EXPERTS_GATE_UP}) rather than one set each. */
    public boolean fusedExperts() {
        return tensors.containsKey(Role.EXPERTS_GATE_UP);
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

    /**
     * The table's block: parallel {@code x + attn(ln1(x)) + mlp(ln(x))} (GPT-J, with no second
     * norm; GPT-NeoX, whose FFN reads its own {@code ln2(x)}) or sequential. A family whose
     * configs choose ({@code use_parallel_residual}) states the default here;
     * {@link ModelConfig#parallelResidual()} is what a model uses.
     */
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

    /**
     * Whether the fused qkv holds head h's q, k and v rows together, at
     * {@code 3·hd·h … 3·hd·(h+1) − 1} (GPT-NeoX), rather than in three row blocks.
     */
    public boolean fusedQkvPerHead() {
        return layout.qkvPerHead();
    }

    /** Whether gate and up are one fused matrix ({@link Role#GATE_UP}, Phi-3's {@code gate_up_proj}). */
    public boolean fusedGateUp() {
        return tensors.containsKey(Role.GATE_UP);
    }

    /** Whether every norm scales by {@code 1 + w} (Gemma 2's {@code Gemma2RMSNorm}). */
    public boolean normPlusOne() {
        return layout.normPlusOne();
    }

    /** Whether token embeddings are multiplied by √hidden_size (Gemma 2's {@code normalizer}). */
    public boolean embedScaled() {
        return layout.embedScaled();
    }

    /**
     * Whether layer {@code layer} of a model with window pattern {@code pattern} is a local one,
     * which the sliding window covers: every layer, the even ones (Gemma 2), or those with
     * {@code (layer + 1) % pattern ≠ 0} (Gemma 3's {@code sliding_window_pattern}).
     */
    boolean windowed(int layer, int pattern) {
        return switch (layout.windows()) {
            case ALL -> true;
            case EVEN -> layer % 2 == 0;
            case PATTERN -> (layer + 1) % pattern != 0;
        };
    }

    /** Whether the sliding window covers only some layers, chosen by {@code sliding_window_pattern}. */
    boolean windowPattern() {
        return layout.windows() == WindowLayers.PATTERN;
    }

    /** Whether the q/k norms act on the whole q and k projections (OLMo 2) rather than per head (Qwen3). */
    public boolean qkNormWhole() {
        return layout.qkNormWhole();
    }

    /** Whether a block norms only the outputs of attention and FFN (OLMo 2), with no input norms. */
    public boolean postNormsOnly() {
        return layout.postNormsOnly();
    }

    /** The {@code rope_scaling} types this family runs (empty: none; rope_scaling must be null). */
    public List<RopeScaling.Type> ropeScalingTypes() {
        return layout.ropeScaling();
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

    /**
     * Whether layer {@code layer} of a checkpoint with {@code config} holds the tensor(s) of
     * {@code role}: {@link #has(Role, ModelConfig)}, and the dense FFN roles only in dense layers,
     * the sparse ones only in sparse layers.
     */
    public boolean has(Role role, ModelConfig config, int layer) {
        if (!has(role, config)) {
            return false;
        }
        if (role.sparse()) {
            return config.sparseLayer(layer);
        }
        return !role.denseFfn() || !config.sparseLayer(layer);
    }

    /** One tensor of a layer: its role, its expert (-1 unless the role is per expert) and its name. */
    public record LayerTensor(Role role, int expert, String name) {
    }

    /** The tensors of layer {@code layer} of a checkpoint with {@code config}, in canonical order. */
    public List<LayerTensor> layerTensors(ModelConfig config, int layer) {
        List<LayerTensor> out = new ArrayList<>();
        forEachLayerTensor(config, layer, out::add);
        return out;
    }

    /**
     * Hands the tensors of layer {@code layer} to {@code visit} one at a time, in canonical order
     * (the router before the experts), so a check can stop at the first bad one.
     */
    private void forEachLayerTensor(ModelConfig config, int layer, java.util.function.Consumer<LayerTensor> visit) {
        for (Role r : roles(config)) {
            if (!r.perLayer() || !has(r, config, layer)) {
                continue;
            }
            if (r.perExpert()) {
                for (int e = 0; e < config.features().experts().count(); e++) {
                    visit.accept(new LayerTensor(r, e, tensorName(r, layer, e)));
                }
            } else {
                visit.accept(new LayerTensor(r, -1, tensorName(r, layer)));
            }
        }
    }

    /** The name of expert {@code expert}'s tensor of {@code role} in {@code layer}. */
    public String tensorName(Role role, int layer, int expert) {
        if (!role.perExpert()) {
            throw new IllegalArgumentException(role + " is not per expert");
        }
        return resolve(template(role).name().replace("{l}", Integer.toString(layer))
                .replace("{e}", Integer.toString(expert)));
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
        if (role.perExpert()) {
            throw new IllegalArgumentException(role + " exists per expert; pass the expert index");
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
            case LN1, LN1_BIAS, LN2, LN2_BIAS, LN1_POST, LN2_POST, LN_F, LN_F_BIAS, O_BIAS, DOWN_BIAS -> new long[] {d};
            case Q_NORM -> new long[] {layout.qkNormWhole() ? q : c.headDim()};
            case K_NORM -> new long[] {layout.qkNormWhole() ? kv : c.headDim()};
            case Q -> matrix(q, d);
            case K, V -> matrix(kv, d);
            case QKV -> matrix(q + 2 * kv, d);
            case O -> matrix(d, q);
            case GATE, UP -> matrix(ffn, d);
            case GATE_UP -> matrix(2 * ffn, d);
            case DOWN -> matrix(d, ffn);
            case Q_BIAS -> new long[] {q};
            case K_BIAS, V_BIAS -> new long[] {kv};
            case QKV_BIAS -> new long[] {q + 2 * kv};
            case GATE_BIAS, UP_BIAS -> new long[] {ffn};
            case LM_HEAD -> new long[] {c.vocabSize(), d};
            case LM_HEAD_BIAS -> new long[] {c.vocabSize()};
            case ROUTER -> new long[] {c.features().experts().count(), d};
            case EXPERT_GATE, EXPERT_UP -> new long[] {c.features().experts().width(), d};
            case EXPERT_DOWN -> new long[] {d, c.features().experts().width()};
            case EXPERTS_GATE_UP -> new long[] {c.features().experts().count(), 2L * c.features().experts().width(), d};
            case EXPERTS_DOWN -> new long[] {c.features().experts().count(), d, c.features().experts().width()};
            case SHARED_GATE, SHARED_UP -> new long[] {c.features().experts().sharedWidth(), d};
            case SHARED_DOWN -> new long[] {d, c.features().experts().sharedWidth()};
            case SHARED_EXPERT_GATE -> new long[] {1, d};
        };
    }

    /**
     * The layer matrices a LoRA adapter can target (PEFT's {@code target_modules}): the
     * attention and FFN projections, fused or not. Embeddings, norms and the LM head are not
     * among them.
     */
    public static final Set<Role> PROJECTIONS = Collections.unmodifiableSet(java.util.EnumSet.of(Role.Q, Role.K,
            Role.V, Role.QKV, Role.O, Role.GATE, Role.UP, Role.GATE_UP, Role.DOWN));

    /**
     * The Hugging Face module path of projection {@code role} in {@code layer}, as
     * {@code model.named_modules()} of the family's {@code *ForCausalLM} class names it and as
     * PEFT keys its adapters ({@code model.layers.3.self_attn.q_proj},
     * {@code transformer.h.0.attn.c_attn}): the tensor's name without {@code .weight}, and
     * with the family's optional prefix even where the checkpoint's names lack it.
     */
    public String moduleName(Role role, int layer) {
        if (!PROJECTIONS.contains(role)) {
            throw new IllegalArgumentException(role + " is not a projection");
        }
        String name = template(role).name().replace("{l}", Integer.toString(layer));
        if (!name.endsWith(".weight")) {
            throw new IllegalStateException(table + ": tensors." + role.key() + " '" + name + "' does not end in .weight");
        }
        return name.substring(0, name.length() - ".weight".length());
    }

    /** {@code {out, in}}: the features projection {@code role} maps from and to, whatever its storage order. */
    public long[] features(Role role, ModelConfig c) {
        long[] s = shape(role, c);
        return weightLayout == WeightLayout.LINEAR ? s : new long[] {s[1], s[0]};
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
            for (LayerTensor t : layerTensors(config, l)) {
                names.add(t.name());
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
        List<LayerTensor> modelLevel = new ArrayList<>();
        for (Role r : roles(config)) {
            if (!r.perLayer()) {
                modelLevel.add(new LayerTensor(r, -1, tensorName(r)));
            }
        }
        for (LayerTensor lt : modelLevel) {
            check(checkpoint, config, lt, expected);
        }
        // one tensor at a time, so a config claiming far more layers or experts than the file holds
        // fails at the first missing one
        for (int l = 0; l < config.numLayers(); l++) {
            forEachLayerTensor(config, l, lt -> check(checkpoint, config, lt, expected));
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

    /** Checks one expected tensor: present, of the shape the config implies, floating point. */
    private void check(Checkpoint checkpoint, ModelConfig config, LayerTensor lt, Set<String> expected) {
        Role r = lt.role();
        String name = lt.name();
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

    /** The layer a per-layer tensor name belongs to, or -1 when it is no per-layer tensor of this family. */
    private int layerOf(String name, ModelConfig config) {
        String mark = "2147483647";
        for (Role r : roles(config)) {
            if (!r.perLayer()) {
                continue;
            }
            String probe = r.perExpert() ? tensorName(r, Integer.MAX_VALUE, 0) : tensorName(r, Integer.MAX_VALUE);
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

        JsonNode layout = object(root, "layout", table);
        checkKeys(layout, LAYOUT_KEYS, table, "layout");
        boolean parallel = choice(layout, "block", table, Map.of("parallel", true, "sequential", false));

        JsonNode config = object(root, "config", table);
        List<String> allFields = new ArrayList<>(ModelConfig.TABLE_FIELDS);
        allFields.addAll(ModelConfig.OPTIONAL_FIELDS.keySet());
        checkKeys(config, allFields, table, "config");
        Map<String, ConfigField> fields = new LinkedHashMap<>();
        for (String f : allFields) {
            JsonNode spec = config.get(f);
            if (spec == null && ModelConfig.OPTIONAL_FIELDS.containsKey(f)) {
                JsonNode builtIn = f.equals("parallel_residual") ? YAML.getNodeFactory().booleanNode(parallel)
                        : ModelConfig.OPTIONAL_FIELDS.get(f);
                fields.put(f, new ConfigField(null, builtIn, null));
                continue;
            }
            if (spec == null) {
                throw NeurotomeException.badCheckpoint(table + ": config lacks '" + f + "'");
            }
            if (spec.isTextual()) {
                fields.put(f, new ConfigField(spec.asText(), null, null));
            } else if (spec.isObject()) {
                checkKeys(spec, List.of("key", "default", "if_null"), table, "config." + f);
                JsonNode key = spec.get("key");
                fields.put(f, new ConfigField(key == null ? null : key.asText(), spec.get("default"), spec.get("if_null")));
            } else {
                throw NeurotomeException.badCheckpoint(table + ": config." + f
                        + " must be a config.json key or {key, default, if_null}, got " + spec);
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

        WeightLayout weights = choice(layout, "weights", table, Map.of("linear", WeightLayout.LINEAR,
                "conv1d", WeightLayout.CONV1D));
        NormKind norm = choice(layout, "norm", table, Map.of("rmsnorm", NormKind.RMSNORM,
                "layernorm", NormKind.LAYERNORM));
        boolean gated = choice(layout, "mlp", table, Map.of("gated", true, "plain", false));
        RotaryStyle rotary = choice(layout, "rotary", table, Map.of("none", RotaryStyle.NONE,
                "rotate_half", RotaryStyle.ROTATE_HALF, "interleaved", RotaryStyle.INTERLEAVED));
        String prefix = layout.path("optional_prefix").asText("");
        boolean perHead = optionalChoice(layout, "fused_qkv", table, Map.of("row_blocks", false, "per_head", true), false);
        boolean plusOne = optionalChoice(layout, "norm_weight", table, Map.of("w", false, "one_plus_w", true), false);
        boolean embedScaled = optionalChoice(layout, "embed_scale", table, Map.of("none", false, "sqrt_hidden", true),
                false);
        WindowLayers windows = optionalChoice(layout, "sliding_window_layers", table, Map.of("all", WindowLayers.ALL,
                "even", WindowLayers.EVEN, "pattern", WindowLayers.PATTERN), WindowLayers.ALL);
        boolean qkWhole = optionalChoice(layout, "qk_norm", table, Map.of("per_head", false, "projection", true), false);
        boolean postOnly = optionalChoice(layout, "norm_position", table, Map.of("pre", false, "post", true), false);
        List<RopeScaling.Type> ropeTypes = new ArrayList<>();
        JsonNode rope = root.path("rope_scaling");
        if (!rope.isMissingNode() && !rope.isArray()) {
            throw NeurotomeException.badCheckpoint(table + ": rope_scaling must be a list of rope_type names");
        }
        for (JsonNode n : rope) {
            RopeScaling.Type t = RopeScaling.Type.ofKey(n.asText());
            if (t == null || t == RopeScaling.Type.NONE) {
                throw NeurotomeException.badCheckpoint(table + ": rope_scaling lists '" + n.asText() + "'; allowed: "
                        + Arrays.stream(RopeScaling.Type.values()).filter(x -> x != RopeScaling.Type.NONE)
                        .map(RopeScaling.Type::key).collect(Collectors.joining(", ")));
            }
            ropeTypes.add(t);
        }
        Layout extra = new Layout(perHead, plusOne, embedScaled, windows, List.copyOf(ropeTypes), qkWhole, postOnly);

        Map<Role, Template> tensors = templates(object(root, "tensors", table), table, "tensors");
        Map<Role, Template> fused = root.has("fused_experts")
                ? templates(object(root, "fused_experts", table), table, "fused_experts") : Map.of();
        checkRoles(tensors, gated, norm, parallel && !config.has("parallel_residual"), perHead, postOnly, table);
        checkExperts(tensors, fused, config, table);
        if (windows == WindowLayers.PATTERN && !config.has("sliding_window_pattern")) {
            throw NeurotomeException.badCheckpoint(table + ": layout.sliding_window_layers pattern needs the config"
                    + " field sliding_window_pattern");
        }

        List<String> ignored = new ArrayList<>();
        root.path("ignored").forEach(n -> ignored.add(n.asText()));
        return new Architecture(modelType, table, reference, Collections.unmodifiableMap(fields),
                Collections.unmodifiableMap(requires), weights, norm, gated, parallel, rotary, extra, prefix, false,
                Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(fused), List.copyOf(ignored));
    }

    /** The role → name templates of a table section ({@code tensors} or {@code fused_experts}). */
    private static Map<Role, Template> templates(JsonNode tensorsNode, String table, String section) {
        Map<Role, Template> tensors = new EnumMap<>(Role.class);
        for (Iterator<Map.Entry<String, JsonNode>> it = tensorsNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Role role = Role.ofKey(e.getKey());
            if (role == null) {
                throw NeurotomeException.badCheckpoint(table + ": unknown role '" + e.getKey() + "' in " + section
                        + "; allowed: " + Role.allowedKeys());
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
                throw NeurotomeException.badCheckpoint(table + ": " + section + "." + e.getKey() + " '" + t.name() + "' "
                        + (role.perLayer() ? "needs" : "must not contain") + " the layer placeholder {l}");
            }
            if (role.perExpert() != t.name().contains("{e}")) {
                throw NeurotomeException.badCheckpoint(table + ": " + section + "." + e.getKey() + " '" + t.name() + "' "
                        + (role.perExpert() ? "needs" : "must not contain") + " the expert placeholder {e}");
            }
            tensors.put(role, t);
        }
        return tensors;
    }

    /**
     * A sparse table declares its router, its experts one way or both (per expert in
     * {@code tensors}, fused in {@code fused_experts}, with the router again there), a shared
     * expert whole or not at all, and reads its expert count, top k and expert width from
     * config.json; a dense table declares none of these.
     */
    private static void checkExperts(Map<Role, Template> tensors, Map<Role, Template> fused, JsonNode config,
                                     String table) {
        boolean sparse = tensors.containsKey(Role.ROUTER);
        for (Role r : Role.values()) {
            if (r.sparse() && r != Role.ROUTER && tensors.containsKey(r) && !sparse) {
                throw NeurotomeException.badCheckpoint(table + ": tensors." + r.key() + " needs a router");
            }
        }
        if (!sparse) {
            if (!fused.isEmpty()) {
                throw NeurotomeException.badCheckpoint(table + ": fused_experts needs a router in tensors");
            }
            return;
        }
        for (Role r : List.of(Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN)) {
            if (!tensors.containsKey(r)) {
                throw NeurotomeException.badCheckpoint(table + ": tensors lacks the role '" + r.key() + "'");
            }
        }
        if (tensors.containsKey(Role.EXPERTS_GATE_UP) || tensors.containsKey(Role.EXPERTS_DOWN)) {
            throw NeurotomeException.badCheckpoint(table + ": experts_gate_up and experts_down belong in fused_experts");
        }
        if (!fused.isEmpty() && !fused.keySet().equals(java.util.EnumSet.of(Role.ROUTER, Role.EXPERTS_GATE_UP,
                Role.EXPERTS_DOWN))) {
            throw NeurotomeException.badCheckpoint(table + ": fused_experts needs exactly router, experts_gate_up and"
                    + " experts_down");
        }
        long shared = java.util.stream.Stream.of(Role.SHARED_GATE, Role.SHARED_UP, Role.SHARED_DOWN,
                Role.SHARED_EXPERT_GATE).filter(tensors::containsKey).count();
        if (shared != 0 && shared != 4) {
            throw NeurotomeException.badCheckpoint(table + ": tensors needs shared_gate, shared_up, shared_down and"
                    + " shared_expert_gate, or none of them");
        }
        for (String f : List.of("num_experts", "experts_per_token", "expert_ffn_size")) {
            if (!config.has(f)) {
                throw NeurotomeException.badCheckpoint(table + ": a router needs the config field " + f);
            }
        }
        if (shared == 4 && !config.has("shared_expert_ffn_size")) {
            throw NeurotomeException.badCheckpoint(table + ": a shared expert needs the config field"
                    + " shared_expert_ffn_size");
        }
    }

    /**
     * The roles every table must declare, so a forward pass never meets a missing weight;
     * {@code sharedNorm} is a block whose FFN reads the attention's norm (GPT-J); {@code postOnly}
     * one that norms only its outputs (OLMo 2).
     */
    private static void checkRoles(Map<Role, Template> tensors, boolean gated, NormKind norm, boolean sharedNorm,
                                   boolean qkvPerHead, boolean postOnly, String table) {
        boolean gateUp = tensors.containsKey(Role.GATE_UP);
        // a mixture of experts whose every layer is sparse (Mixtral, OLMoE) has no dense FFN
        boolean allSparse = tensors.containsKey(Role.ROUTER) && !tensors.containsKey(Role.DOWN);
        List<Role> required = new ArrayList<>(List.of(Role.EMBED, Role.O, Role.LN_F, Role.LM_HEAD));
        if (!allSparse) {
            required.add(Role.DOWN);
        }
        if (postOnly) {
            if (tensors.containsKey(Role.LN1) || tensors.containsKey(Role.LN2)) {
                throw NeurotomeException.badCheckpoint(table + ": layout.norm_position post allows neither ln1 nor ln2");
            }
            required.addAll(List.of(Role.LN1_POST, Role.LN2_POST));
        } else {
            required.add(Role.LN1);
        }
        if (!allSparse) {
            required.add(gateUp ? Role.GATE_UP : Role.UP);
        }
        if (gated && !gateUp && !allSparse) {
            required.add(Role.GATE);
        }
        if (!sharedNorm && !postOnly) {
            required.add(Role.LN2);
        }
        if (norm == NormKind.LAYERNORM) {
            required.addAll(List.of(Role.LN1_BIAS, Role.LN_F_BIAS));
        }
        if (gateUp && (!gated || tensors.containsKey(Role.GATE) || tensors.containsKey(Role.UP))) {
            throw NeurotomeException.badCheckpoint(table + ": tensors.gate_up needs mlp: gated and neither gate nor up");
        }
        if (tensors.containsKey(Role.Q_NORM) != tensors.containsKey(Role.K_NORM)) {
            throw NeurotomeException.badCheckpoint(table + ": tensors needs both q_norm and k_norm, or neither");
        }
        if (tensors.containsKey(Role.LN1_POST) != tensors.containsKey(Role.LN2_POST)) {
            throw NeurotomeException.badCheckpoint(table + ": tensors needs both ln1_post and ln2_post, or neither");
        }
        if (qkvPerHead && !tensors.containsKey(Role.QKV)) {
            throw NeurotomeException.badCheckpoint(table + ": layout.fused_qkv needs a qkv tensor");
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

    /** {@link #choice}, or {@code absent} when the table does not state {@code key}. */
    private static <T> T optionalChoice(JsonNode node, String key, String table, Map<String, T> options, T absent) {
        return node.has(key) ? choice(node, key, table, options) : absent;
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
