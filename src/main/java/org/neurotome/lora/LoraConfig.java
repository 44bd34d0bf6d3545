package org.neurotome.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.BoundedRegex;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT LoRA adapter's {@code adapter_config.json} (peft {@code LoraConfig}, peft/tuners/lora/config.py),
 * read as PEFT reads it: which modules carry an adapter ({@code target_modules}: a list of
 * module-name suffixes, a regular expression matched against the whole name, or
 * {@code all-linear}; narrowed by {@code layers_to_transform}/{@code layers_pattern} and
 * {@code exclude_modules}, as {@code check_target_module_exists} in peft/tuners/tuners_utils.py
 * does), each module's rank and α ({@code r}, {@code lora_alpha}, overridden per module by
 * {@code rank_pattern}/{@code alpha_pattern}, matched as {@code get_pattern_key} in
 * peft/utils/other.py does) and its scale α/r, or α/√r with {@code use_rslora}
 * (peft/tuners/lora/layer.py {@code update_layer}). {@code fan_in_fan_out} is informational:
 * PEFT sets it from the module's type (true for GPT-2's Conv1D), and so does neurotome.
 * Settings that change the forward pass beyond W + scale·B·A (DoRA, LoRA biases, modules to
 * save, layer replication, ...) are refused by name, as are initialisations that leave the
 * adapter tied to a changed base (PiSSA, OLoRA, ...). Keys PEFT versions add that change
 * nothing here are ignored.
 *
 * @param targetModules     the list form of {@code target_modules}, or null when it is a pattern
 * @param targetPattern     the string form of {@code target_modules} (a regular expression, or
 *                          {@code all-linear}), or null when it is a list
 * @param layersToTransform layer indices, or null for every layer
 * @param layersPattern     names of the module list holding the layers ({@code layers}, {@code h}), or null
 * @param excludeModules    the list form of {@code exclude_modules}, or null
 * @param excludePattern    the string form of {@code exclude_modules}, or null
 */
public record LoraConfig(int r, double alpha, List<String> targetModules, String targetPattern,
                         Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, boolean useRslora,
                         boolean fanInFanOut, List<Integer> layersToTransform, List<String> layersPattern,
                         List<String> excludeModules, String excludePattern, String baseModel) {

    public static final String FILE = "adapter_config.json";
    /** PEFT's {@code INCLUDE_LINEAR_LAYERS_SHORTHAND}: every linear layer but the output layer. */
    public static final String ALL_LINEAR = "all-linear";
    /** The largest rank read: far above any useful one (a rank past a matrix's smaller side adds nothing). */
    public static final int MAX_RANK = 1 << 20;
    private static final String RANKS = "a whole number from 1 to " + MAX_RANK;
    /** Keys whose non-default values change the forward pass in ways a LoRA view does not compute. */
    private static final Map<String, String> UNSUPPORTED = unsupported();
    /** init_lora_weights values that train the adapter against a changed base model. */
    private static final Set<String> BASE_CHANGING_INIT = Set.of("pissa", "olora", "corda", "lora_ga", "eva", "loftq",
            "orthogonal");

    public LoraConfig {
        targetModules = targetModules == null ? null : List.copyOf(targetModules);
        // ordered: the first matching key wins, as in PEFT
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern == null ? Map.of() : rankPattern));
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern == null ? Map.of() : alphaPattern));
        layersToTransform = layersToTransform == null ? null : List.copyOf(layersToTransform);
        layersPattern = layersPattern == null ? null : List.copyOf(layersPattern);
        excludeModules = excludeModules == null ? null : List.copyOf(excludeModules);
    }

    /** A plain adapter: rank {@code r}, α {@code alpha}, on the modules named (suffixes) in {@code layers} (null: all). */
    public static LoraConfig of(int r, double alpha, boolean rslora, List<String> targetModules,
                                List<Integer> layers, boolean fanInFanOut, String baseModel) {
        return new LoraConfig(r, alpha, targetModules, null, Map.of(), Map.of(), rslora, fanInFanOut, layers, null,
                null, null, baseModel);
    }

    private static Map<String, String> unsupported() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("use_dora", "DoRA (a learned magnitude per output) is not a low-rank delta");
        m.put("lora_bias", "a bias on lora_B is not supported");
        m.put("modules_to_save", "fully trained modules beside the adapter are not supported");
        m.put("layer_replication", "replicated layers change the model's depth");
        m.put("target_parameters", "adapters on bare parameters (MoE experts) are not supported");
        m.put("trainable_token_indices", "trained token embeddings are not supported");
        m.put("alora_invocation_tokens", "activated LoRA (aLoRA) applies only after its invocation tokens");
        m.put("use_qalora", "QALoRA pools its input and is for quantized models");
        m.put("use_bdlora", "block-diagonal LoRA is not supported");
        return m;
    }

    /** Reads and checks {@code file}; every problem is a BAD_CHECKPOINT error naming the file and the key. */
    public static LoraConfig read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw NeurotomeException.badCheckpoint(file + ": missing (a PEFT LoRA adapter directory holds " + FILE
                    + " and " + LoraAdapter.WEIGHTS + ")");
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw NeurotomeException.badCheckpoint(Json.invalid(file, e));
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(file + ": cannot read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw NeurotomeException.badCheckpoint(file + ": must be a JSON object");
        }
        return parse(file.toString(), root);
    }

    static LoraConfig parse(String file, JsonNode root) {
        Reader in = new Reader(file, root);
        String type = in.text("peft_type", null);
        if (!"LORA".equals(type)) {
            throw in.bad("peft_type", type == null ? "missing" : "'" + type + "'", "LORA (other PEFT methods are not LoRA)");
        }
        if (!root.path("bias").isMissingNode() && !root.path("bias").isNull() && !"none".equals(root.path("bias").asText())) {
            throw in.bad("bias", root.get("bias").toString(), "none (trained biases are not supported)");
        }
        for (Map.Entry<String, String> u : UNSUPPORTED.entrySet()) {
            JsonNode v = root.get(u.getKey());
            boolean set = v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean())
                    && !(v.isContainerNode() && v.isEmpty());
            if (set) {
                throw NeurotomeException.badCheckpoint(file + ": key '" + u.getKey() + "' is " + v + ": " + u.getValue()
                        + "; allowed: false, null or absent");
            }
        }
        JsonNode init = root.get("init_lora_weights");
        if (init != null && init.isTextual()) {
            String kind = init.asText().toLowerCase(java.util.Locale.ROOT);
            if (BASE_CHANGING_INIT.stream().anyMatch(kind::startsWith)) {
                throw in.bad("init_lora_weights", "'" + init.asText() + "'", "true, false or gaussian: an adapter "
                        + "initialised with " + init.asText() + " was trained on a changed base; convert it with PEFT's "
                        + "save_pretrained(path_initial_model_for_weight_conversion=...) first");
            }
        }
        int r = in.rank("r", root.get("r"));
        double alpha = in.alpha("lora_alpha", root.get("lora_alpha"));
        JsonNode targets = root.get("target_modules");
        List<String> targetList = null;
        String targetPattern = null;
        if (targets == null || targets.isNull()) {
            throw in.bad("target_modules", "missing", "a list of module names (q_proj, c_attn, ...), a regular "
                    + "expression or all-linear");
        } else if (targets.isTextual()) {
            targetPattern = in.pattern("target_modules", targets.asText());
        } else {
            targetList = in.names("target_modules", targets);
            if (targetList.isEmpty()) {
                throw in.bad("target_modules", "[]", "at least one module name");
            }
        }
        Map<String, Integer> ranks = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : in.object("rank_pattern").entrySet()) {
            in.pattern("rank_pattern." + e.getKey(), e.getKey());
            ranks.put(e.getKey(), in.rank("rank_pattern." + e.getKey(), e.getValue()));
        }
        Map<String, Double> alphas = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : in.object("alpha_pattern").entrySet()) {
            in.pattern("alpha_pattern." + e.getKey(), e.getKey());
            alphas.put(e.getKey(), in.alpha("alpha_pattern." + e.getKey(), e.getValue()));
        }
        List<Integer> layers = null;
        JsonNode lt = root.get("layers_to_transform");
        if (lt != null && !lt.isNull()) {
            layers = new ArrayList<>();
            for (JsonNode n : lt.isArray() ? lt : Json.MAPPER.createArrayNode().add(lt)) {
                if (!n.isIntegralNumber() || n.asLong() < 0 || n.asLong() > Integer.MAX_VALUE) {
                    throw in.bad("layers_to_transform", lt.toString(), "a layer index >= 0 or a list of them");
                }
                layers.add(n.asInt());
            }
        }
        List<String> layersPattern = null;
        JsonNode lp = root.get("layers_pattern");
        if (lp != null && !lp.isNull()) {
            layersPattern = lp.isTextual() ? List.of(lp.asText()) : in.names("layers_pattern", lp);
            layersPattern.forEach(p -> in.pattern("layers_pattern", p));
        }
        List<String> excludeList = null;
        String excludePattern = null;
        JsonNode ex = root.get("exclude_modules");
        if (ex != null && !ex.isNull()) {
            if (ex.isTextual()) {
                excludePattern = in.pattern("exclude_modules", ex.asText());
            } else {
                excludeList = in.names("exclude_modules", ex);
            }
        }
        return new LoraConfig(r, alpha, targetList, targetPattern, ranks, alphas, in.bool("use_rslora"),
                in.bool("fan_in_fan_out"), layers, layersPattern, excludeList, excludePattern,
                in.text("base_model_name_or_path", null));
    }

    /**
     * Whether module {@code module} (a Hugging Face module path such as
     * {@code model.layers.3.self_attn.q_proj}, one of the model's projections) carries this
     * adapter, as PEFT's {@code check_target_module_exists} decides; {@code all-linear} selects
     * every projection.
     */
    public boolean targets(String module) {
        if (excludePattern != null && matches("exclude_modules", excludePattern, module)
                || excludeModules != null && (excludeModules.contains(module)
                || excludeModules.stream().anyMatch(e -> module.endsWith("." + e)))) {
            return false;
        }
        if (targetPattern != null) {
            return matchesTargetPattern(module);
        }
        if (targetModules.contains(module)) {
            return true;
        }
        if (targetModules.stream().noneMatch(t -> module.endsWith("." + t))) {
            return false;
        }
        if (layersToTransform == null || layersToTransform.isEmpty()) {
            return true;
        }
        Integer layer = layerIndex(module);
        return layer != null && layersToTransform.contains(layer);
    }

    /** Whether the string form of {@code target_modules} selects {@code module} ({@code all-linear}: every projection). */
    public boolean matchesTargetPattern(String module) {
        return targetPattern.equals(ALL_LINEAR) || matches("target_modules", targetPattern, module);
    }

    /** The layer index PEFT reads from a module path: the first numbered segment, or the one after {@code layers_pattern}. */
    private Integer layerIndex(String module) {
        Map<String, Pattern> patterns = new LinkedHashMap<>();
        if (layersPattern == null || layersPattern.isEmpty()) {
            patterns.put("", Pattern.compile(".*?\\.[^.]*\\.(\\d+)\\."));
        } else {
            for (String p : layersPattern) {
                patterns.put(p, Pattern.compile("(?:^|.*?\\.)" + p + "\\.(\\d+)\\."));
            }
        }
        for (Map.Entry<String, Pattern> p : patterns.entrySet()) {
            Matcher m;
            try {
                m = BoundedRegex.lookingAt(p.getValue(), module);
            } catch (BoundedRegex.TooMuchWork e) {
                throw new SlowPattern("layers_pattern", p.getKey(), module, e.steps());
            }
            if (m != null) {
                return Integer.parseInt(m.group(1));
            }
        }
        return null;
    }

    /**
     * Whether {@code regex}, the value of {@code key}, matches the whole of {@code module}, with a
     * bound on the engine's work: a pattern that backtracks without end is a {@link SlowPattern}.
     */
    private static boolean matches(String key, String regex, String module) {
        try {
            return BoundedRegex.matches(Pattern.compile(regex), module);
        } catch (BoundedRegex.TooMuchWork e) {
            throw new SlowPattern(key, regex, module, e.steps());
        }
    }

    /**
     * A pattern of the config took more than {@code steps} steps to match a module path (a
     * nested repetition such as {@code ((.*)*)*x} backtracks without end); {@link #refusal}
     * turns it into the error naming the adapter's file.
     */
    public static final class SlowPattern extends RuntimeException {
        private final String key;
        private final String regex;
        private final String module;

        SlowPattern(String key, String regex, String module, long steps) {
            super("more than " + steps + " steps", null, false, false);
            this.key = key;
            this.regex = regex;
            this.module = module;
        }

        /** The BAD_CHECKPOINT error for the config in {@code file}. */
        public NeurotomeException refusal(String file) {
            return NeurotomeException.badCheckpoint(file + ": key '" + key + "' is the pattern '" + regex
                    + "', which backtracks without end on the module path '" + module + "' (" + getMessage()
                    + "); allowed: a regular expression without nested repetition");
        }
    }

    /** The rank of {@code module}: {@code rank_pattern}'s first matching key, else {@code r}. */
    public int rank(String module) {
        String key = patternKey("rank_pattern", rankPattern.keySet(), module);
        return key == null ? r : rankPattern.get(key);
    }

    /** The α of {@code module}: {@code alpha_pattern}'s first matching key, else {@code lora_alpha}. */
    public double alpha(String module) {
        String key = patternKey("alpha_pattern", alphaPattern.keySet(), module);
        return key == null ? alpha : alphaPattern.get(key);
    }

    /** The factor of {@code module}'s B·A: α/r, or α/√r with rsLoRA. */
    public double scale(String module) {
        int rank = rank(module);
        return useRslora ? alpha(module) / Math.sqrt(rank) : alpha(module) / rank;
    }

    /** PEFT's {@code get_pattern_key}: the first key whose pattern ends the module path at a dot boundary. */
    private static String patternKey(String key, Set<String> keys, String module) {
        for (String k : keys) {
            if (matches(key + "." + k, "(.*\\.)?(" + k + ")", module)) {
                return k;
            }
        }
        return null;
    }

    /** The configuration as PEFT writes it, loadable by {@code PeftModel.from_pretrained}. */
    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        ObjectNode ap = o.putObject("alpha_pattern");
        alphaPattern.forEach(ap::put);
        o.put("base_model_name_or_path", baseModel);
        o.put("bias", "none");
        o.putNull("exclude_modules");
        if (excludeModules != null) {
            ArrayNode a = o.putArray("exclude_modules");
            excludeModules.forEach(a::add);
        } else if (excludePattern != null) {
            o.put("exclude_modules", excludePattern);
        }
        o.put("fan_in_fan_out", fanInFanOut);
        o.put("inference_mode", true);
        o.put("init_lora_weights", true);
        o.putNull("layers_pattern");
        if (layersPattern != null) {
            ArrayNode a = o.putArray("layers_pattern");
            layersPattern.forEach(a::add);
        }
        o.putNull("layers_to_transform");
        if (layersToTransform != null) {
            ArrayNode a = o.putArray("layers_to_transform");
            layersToTransform.forEach(a::add);
        }
        o.put("lora_alpha", alpha);
        o.put("lora_bias", false);
        o.put("lora_dropout", 0.0);
        o.putNull("modules_to_save");
        o.put("peft_type", "LORA");
        o.put("r", r);
        ObjectNode rp = o.putObject("rank_pattern");
        rankPattern.forEach(rp::put);
        o.putNull("revision");
        if (targetPattern != null) {
            o.put("target_modules", targetPattern);
        } else {
            ArrayNode a = o.putArray("target_modules");
            targetModules.forEach(a::add);
        }
        o.put("task_type", "CAUSAL_LM");
        o.put("use_dora", false);
        o.put("use_rslora", useRslora);
        return o;
    }

    /** Reads keys of one config file, each error naming the file, the key, the bad value and what is allowed. */
    private record Reader(String file, JsonNode root) {
        NeurotomeException bad(String key, String got, String allowed) {
            return NeurotomeException.badCheckpoint(file + ": key '" + key + "' is " + got + "; allowed: " + allowed);
        }

        String text(String key, String absent) {
            return optional(key, absent, JsonNode::isTextual, "a string", JsonNode::asText);
        }

        boolean bool(String key) {
            return optional(key, false, JsonNode::isBoolean, "true or false", JsonNode::asBoolean);
        }

        /** The value of an optional key: {@code absent} when it is missing or null, else one that {@code is} accepts. */
        private <T> T optional(String key, T absent, Predicate<JsonNode> is, String allowed, Function<JsonNode, T> value) {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                return absent;
            }
            if (!is.test(v)) {
                throw bad(key, v.toString(), allowed);
            }
            return value.apply(v);
        }

        int rank(String key, JsonNode v) {
            if (v == null || v.isNull()) {
                throw bad(key, "missing", RANKS);
            }
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 1 || v.asLong() > MAX_RANK) {
                throw bad(key, v.toString(), RANKS);
            }
            return v.asInt();
        }

        double alpha(String key, JsonNode v) {
            if (v == null || v.isNull()) {
                throw bad(key, "missing", "a finite number >= 0");
            }
            if (!v.isNumber() || !Double.isFinite(v.asDouble()) || v.asDouble() < 0) {
                throw bad(key, v.toString(), "a finite number >= 0");
            }
            return v.asDouble();
        }

        String pattern(String key, String p) {
            try {
                Pattern.compile(p);
                return p;
            } catch (PatternSyntaxException e) {
                throw bad(key, "'" + p + "'", "a regular expression (" + e.getDescription() + ")");
            }
        }

        List<String> names(String key, JsonNode v) {
            if (!v.isArray()) {
                throw bad(key, v.toString(), "a list of module names or a string");
            }
            List<String> out = new ArrayList<>();
            for (JsonNode n : v) {
                if (!n.isTextual() || n.asText().isEmpty()) {
                    throw bad(key, v.toString(), "a list of non-empty module names");
                }
                out.add(n.asText());
            }
            return out;
        }

        Map<String, JsonNode> object(String key) {
            JsonNode v = root.get(key);
            Map<String, JsonNode> out = new LinkedHashMap<>();
            if (v == null || v.isNull()) {
                return out;
            }
            if (!v.isObject()) {
                throw bad(key, v.toString(), "an object of module-name pattern -> value");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                out.put(e.getKey(), e.getValue());
            }
            return out;
        }
    }
}
