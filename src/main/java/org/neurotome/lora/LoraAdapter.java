package org.neurotome.lora;

import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.FloatCodec;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.checkpoint.SafetensorsFile;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.model.TensorSource;
import org.neurotome.model.WeightOverlay;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A PEFT LoRA adapter directory ({@code PeftModel.save_pretrained}): {@code adapter_config.json}
 * ({@link LoraConfig}) and {@code adapter_model.safetensors}, whose tensors are named
 * {@code base_model.model.<module>.lora_A.weight} and {@code ….lora_B.weight} (the adapter name
 * removed, as {@code get_peft_model_state_dict} saves them). Read once; bound to a model
 * ({@link #bind}) it becomes one {@link LoraModule} per adapted projection, every mismatch —
 * a module the family does not have, a target with no tensors, a shape that disagrees with the
 * base model, a tensor nothing targets — a BAD_CHECKPOINT error naming the file and the tensor
 * or key. As a {@link WeightOverlay} it changes a model's weights as they are read
 * ({@link LoraSource}); it is written back in the same format ({@link #write}).
 */
public final class LoraAdapter implements WeightOverlay {
    public static final String WEIGHTS = "adapter_model.safetensors";
    /** PEFT's prefix: the adapter's keys are those of {@code PeftModel.state_dict()}. */
    public static final String PREFIX = "base_model.model.";
    private static final String A = ".lora_A.weight";
    private static final String B = ".lora_B.weight";

    private final Path dir;
    private final LoraConfig config;
    /** Tensor name → its shape and float32 values. */
    private final Map<String, Stored> tensors;
    private final String fingerprint;

    private record Stored(long[] shape, float[] values) {
    }

    private LoraAdapter(Path dir, LoraConfig config, Map<String, Stored> tensors, String fingerprint) {
        this.dir = dir;
        this.config = config;
        this.tensors = tensors;
        this.fingerprint = fingerprint;
    }

    /** Reads the adapter in {@code dir}; an unreadable or malformed one is a BAD_CHECKPOINT error naming the file. */
    public static LoraAdapter read(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw NeurotomeException.badCheckpoint(dir + ": not a directory (a PEFT LoRA adapter is a directory with "
                    + LoraConfig.FILE + " and " + WEIGHTS + ")");
        }
        LoraConfig config = LoraConfig.read(dir.resolve(LoraConfig.FILE));
        Path weights = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            String bin = Files.isRegularFile(dir.resolve("adapter_model.bin"))
                    ? "; adapter_model.bin (pickle) is not read: save it with PEFT's safe_serialization=True" : "";
            throw NeurotomeException.badCheckpoint(weights + ": missing" + bin);
        }
        Map<String, Stored> tensors = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            for (TensorInfo t : f.tensors().values()) {
                if (!t.dtype().isFloat()) {
                    throw NeurotomeException.badCheckpoint(weights + ": tensor '" + t.name() + "' has dtype " + t.dtype()
                            + "; allowed: F32, F16, BF16, F64");
                }
                float[] v = FloatCodec.decode(f.bytes(t), t.dtype(), Math.toIntExact(t.numel()));
                for (int i = 0; i < v.length; i++) {
                    if (!Float.isFinite(v[i])) {
                        throw NeurotomeException.badCheckpoint(weights + ": tensor '" + t.name() + "' holds " + v[i]
                                + " at element " + i + "; LoRA matrices must be finite");
                    }
                }
                tensors.put(t.name(), new Stored(t.shape(), v));
            }
        }
        return new LoraAdapter(dir, config, tensors, Manifest.fingerprint(dir));
    }

    /** An adapter held in memory (just trained): {@code modules} under {@code config}. */
    public static LoraAdapter of(LoraConfig config, List<LoraModule> modules) {
        Map<String, Stored> tensors = new LinkedHashMap<>();
        for (LoraModule m : modules) {
            tensors.put(PREFIX + m.module() + A, new Stored(new long[] {m.rank(), m.in()}, m.a()));
            tensors.put(PREFIX + m.module() + B, new Stored(new long[] {m.out(), m.rank()}, m.b()));
        }
        return new LoraAdapter(null, config, tensors, null);
    }

    public LoraConfig config() {
        return config;
    }

    /** Where it was read from; null for an adapter held in memory. */
    @Override
    public Path dir() {
        return dir;
    }

    /** {@link Manifest#fingerprint} of its directory; null for an adapter held in memory. */
    @Override
    public String fingerprint() {
        return fingerprint;
    }

    /** How messages name the adapter's files. */
    private String file(String name) {
        return dir == null ? "the trained adapter's " + name : dir.resolve(name).toString();
    }

    /** A projection of the model: its role and layer. */
    private record Slot(Role role, int layer) {
    }

    /** Every projection module of a model of family {@code arch} and shape {@code c}, by module path. */
    private static Map<String, Slot> projections(Architecture arch, ModelConfig c) {
        Map<String, Slot> out = new LinkedHashMap<>();
        for (int l = 0; l < c.numLayers(); l++) {
            for (Role r : arch.roles(c)) {
                if (Architecture.PROJECTIONS.contains(r) && arch.has(r, c, l)) {
                    out.put(arch.moduleName(r, l), new Slot(r, l));
                }
            }
        }
        return out;
    }

    /** The last path segments of the family's projections ({@code q_proj}, {@code c_attn}, ...), for messages. */
    private static String shortNames(Map<String, Slot> family) {
        Set<String> names = new LinkedHashSet<>();
        family.keySet().forEach(m -> names.add(m.substring(m.lastIndexOf('.') + 1)));
        return String.join(", ", names);
    }

    /**
     * This adapter's modules on a model of family {@code arch} and shape {@code c}, in layer
     * order; any mismatch is a BAD_CHECKPOINT error naming the adapter file and the tensor or
     * key (an adapter for another family fails here too: none of its modules exists).
     */
    public List<LoraModule> bind(Architecture arch, ModelConfig c) {
        try {
            return bindModules(arch, c);
        } catch (LoraConfig.SlowPattern e) {
            throw e.refusal(file(LoraConfig.FILE));
        }
    }

    private List<LoraModule> bindModules(Architecture arch, ModelConfig c) {
        Map<String, Slot> family = projections(arch, c);
        String model = "a " + c.modelType() + " model with " + c.numLayers() + " layers";
        String weights = file(WEIGHTS);
        String configFile = file(LoraConfig.FILE);
        Map<String, float[][]> found = new LinkedHashMap<>();
        boolean anyKnown = false;
        String firstUnknown = null;
        for (String name : tensors.keySet()) {
            String part = name.endsWith(A) ? A : name.endsWith(B) ? B : null;
            if (part == null || !name.startsWith(PREFIX)) {
                throw NeurotomeException.badCheckpoint(weights + ": unexpected tensor '" + name + "'; a LoRA adapter holds "
                        + "only " + PREFIX + "<module>" + A + " and " + PREFIX + "<module>" + B);
            }
            String module = name.substring(PREFIX.length(), name.length() - part.length());
            if (family.containsKey(module)) {
                anyKnown = true;
            } else if (firstUnknown == null) {
                firstUnknown = name;
            }
            found.computeIfAbsent(module, k -> new float[2][])[part.equals(A) ? 0 : 1] = tensors.get(name).values();
        }
        if (!anyKnown && firstUnknown != null) {
            throw NeurotomeException.badCheckpoint(weights + ": tensor '" + firstUnknown + "' adapts a module that " + model
                    + " does not have (is the adapter for another model family?); its projections: " + shortNames(family));
        }
        if (firstUnknown != null) {
            throw NeurotomeException.badCheckpoint(weights + ": tensor '" + firstUnknown + "' adapts a module that " + model
                    + " does not have; its projections: " + shortNames(family));
        }
        checkTargetNames(config, family, model, configFile + ": key 'target_modules'", false);
        List<LoraModule> modules = new ArrayList<>();
        Set<String> targeted = new LinkedHashSet<>();
        for (Map.Entry<String, Slot> e : family.entrySet()) {
            String module = e.getKey();
            if (!config.targets(module)) {
                continue;
            }
            targeted.add(module);
            float[][] ab = found.get(module);
            for (int i = 0; i < 2; i++) {
                if (ab == null || ab[i] == null) {
                    throw NeurotomeException.badCheckpoint(weights + ": missing tensor '" + PREFIX + module + (i == 0 ? A : B)
                            + "': " + LoraConfig.FILE + "'s target_modules select " + module);
                }
            }
            Slot s = e.getValue();
            long[] outIn = arch.features(s.role(), c);
            int r = config.rank(module);
            check(weights, PREFIX + module + A, new long[] {r, outIn[1]}, module, r);
            check(weights, PREFIX + module + B, new long[] {outIn[0], r}, module, r);
            modules.add(new LoraModule(module, s.role(), s.layer(), arch.tensorName(s.role(), s.layer()), r,
                    config.alpha(module), config.scale(module), (int) outIn[0], (int) outIn[1], ab[0], ab[1]));
        }
        if (targeted.isEmpty()) {
            throw NeurotomeException.badCheckpoint(configFile + ": target_modules, layers_to_transform and exclude_modules "
                    + "select no module of " + model + "; its projections: " + shortNames(family));
        }
        for (String module : found.keySet()) {
            if (!targeted.contains(module)) {
                throw NeurotomeException.badCheckpoint(weights + ": tensor '" + PREFIX + module
                        + (found.get(module)[0] != null ? A : B) + "' adapts " + module + ", which " + LoraConfig.FILE
                        + "'s target_modules do not select");
            }
        }
        return modules;
    }

    /**
     * Every name in target_modules must name a projection of the family (PEFT: "Target
     * modules ... not found"); {@code where} names the key in messages, which are BAD_INPUT
     * errors for {@code badInput} (a command line) and BAD_CHECKPOINT otherwise (a file).
     */
    private static void checkTargetNames(LoraConfig config, Map<String, Slot> family, String model, String where,
                                         boolean badInput) {
        String message = null;
        if (config.targetModules() != null) {
            for (String t : config.targetModules()) {
                boolean exists = family.keySet().stream().anyMatch(m -> m.equals(t) || m.endsWith("." + t));
                if (!exists && message == null) {
                    message = where + " lists '" + t + "', which " + model + " has no projection of; allowed: "
                            + shortNames(family) + " (or " + LoraConfig.ALL_LINEAR + ")";
                }
            }
        } else if (family.keySet().stream().noneMatch(config::matchesTargetPattern)) {
            message = where + " is the pattern '" + config.targetPattern() + "', which matches no projection of "
                    + model + "; projections: " + shortNames(family);
        }
        if (message != null) {
            throw badInput ? NeurotomeException.badInput(message) : NeurotomeException.badCheckpoint(message);
        }
    }

    /** The family's projection names, {@code q_proj}, {@code c_attn}, ... (the last segment of each module path). */
    public static List<String> projectionNames(Architecture arch, ModelConfig c) {
        Set<String> names = new LinkedHashSet<>();
        projections(arch, c).keySet().forEach(m -> names.add(m.substring(m.lastIndexOf('.') + 1)));
        return List.copyOf(names);
    }

    /**
     * Fresh modules to train on a model of family {@code arch} and shape {@code c}: the
     * projections {@code config} selects, A drawn as PEFT initialises it
     * ({@code kaiming_uniform_(a=√5)}: U(−1/√in, 1/√in)) and B zero, so training starts from the
     * base model; a target name the family lacks is a BAD_INPUT error ({@code where} names the option).
     */
    public static List<LoraModule> initial(LoraConfig config, Architecture arch, ModelConfig c, java.util.Random random,
                                           String where) {
        Map<String, Slot> family = projections(arch, c);
        String model = "a " + c.modelType() + " model with " + c.numLayers() + " layers";
        checkTargetNames(config, family, model, where, true);
        List<LoraModule> modules = new ArrayList<>();
        for (Map.Entry<String, Slot> e : family.entrySet()) {
            String module = e.getKey();
            if (!config.targets(module)) {
                continue;
            }
            Slot s = e.getValue();
            long[] outIn = arch.features(s.role(), c);
            int r = config.rank(module);
            float[] a = new float[Math.toIntExact(r * outIn[1])];
            double bound = 1 / Math.sqrt(outIn[1]);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) ((2 * random.nextDouble() - 1) * bound);
            }
            modules.add(new LoraModule(module, s.role(), s.layer(), arch.tensorName(s.role(), s.layer()), r,
                    config.alpha(module), config.scale(module), (int) outIn[0], (int) outIn[1], a,
                    new float[Math.toIntExact(outIn[0] * r)]));
        }
        if (modules.isEmpty()) {
            throw NeurotomeException.badInput(where + " and the layers chosen select no module of " + model);
        }
        return modules;
    }

    private void check(String weights, String name, long[] want, String module, int rank) {
        long[] got = tensors.get(name).shape();
        if (!Arrays.equals(got, want)) {
            throw NeurotomeException.badCheckpoint(weights + ": tensor '" + name + "' has shape " + Arrays.toString(got)
                    + ", but the model's " + module + " with rank " + rank + " needs " + Arrays.toString(want)
                    + " (is the adapter for another model, or r/rank_pattern wrong?)");
        }
    }

    @Override
    public TensorSource over(TensorSource base, Architecture arch, ModelConfig config) {
        return new LoraSource(base, bind(arch, config), arch.weightLayout(), 1.0);
    }

    /** A one-line description: rank, α, rsLoRA, how many modules of which kinds in which layers. */
    public static String summary(LoraConfig config, List<LoraModule> modules) {
        Set<String> kinds = new LinkedHashSet<>();
        Set<Integer> layers = new java.util.TreeSet<>();
        for (LoraModule m : modules) {
            kinds.add(m.module().substring(m.module().lastIndexOf('.') + 1));
            layers.add(m.layer());
        }
        return "r " + config.r() + ", alpha " + fmt(config.alpha()) + (config.useRslora() ? ", rsLoRA" : "") + ", "
                + modules.size() + " modules (" + String.join(", ", kinds) + ") in layers " + layers;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    /**
     * Writes {@code modules} under {@code config} as a PEFT adapter directory in {@code out}
     * (F32 tensors in module order, A then B), with {@code files} beside them (a training log)
     * and a {@code manifest.json} holding every file's SHA-256 and {@code provenance};
     * atomically, as a checkpoint is written, under the checks of {@code guard} (null: the
     * caller vouches for {@code out}; only an existing directory without {@code force} is refused).
     */
    public static void write(Path out, LoraConfig config, List<LoraModule> modules, Map<String, byte[]> files,
                             Map<String, JsonNode> provenance, boolean force, OutputGuard guard) {
        List<OutputTensor> tensors = new ArrayList<>();
        for (LoraModule m : modules) {
            tensors.add(OutputTensor.ofFloats(PREFIX + m.module() + A, DType.F32, new long[] {m.rank(), m.in()}, m.a()));
            tensors.add(OutputTensor.ofFloats(PREFIX + m.module() + B, DType.F32, new long[] {m.out(), m.rank()}, m.b()));
        }
        Map<String, byte[]> all = new TreeMap<>(files);
        try {
            all.put(LoraConfig.FILE, (Json.pretty().writeValueAsString(config.toJson()) + "\n")
                    .getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        CheckpointWriter writer = new CheckpointWriter(Long.MAX_VALUE, Map.of("format", "pt"), force).tensorFile(WEIGHTS);
        if (guard != null) {
            writer.protecting(guard);
        }
        writer.write(out, tensors, all, new CheckpointWriter.LastFile(Manifest.FILE,
                hashes -> Manifest.render(hashes, provenance)));
    }
}
