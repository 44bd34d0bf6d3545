package org.neurotome.recipe;

import org.neurotome.arch.Head;
import org.neurotome.arch.LayerRange;
import org.neurotome.arch.Neuron;

import org.neurotome.yaml.DiscriminatedDeserializer;
import org.neurotome.yaml.SchemaViolation;

import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * One weight edit of a recipe's {@code edit} list (docs/method.md A5, and a LoRA merge), chosen by {@code op}; each op
 * declares exactly its own parameters. Edits apply in list order. Heads and neurons are given
 * literally or as {@code ${id}} of an earlier locate/select step.
 */
public sealed interface Edit {

    /** The ops by name, in the order messages list them. */
    static Map<String, Class<? extends Edit>> ops() {
        Map<String, Class<? extends Edit>> m = new LinkedHashMap<>();
        m.put("zero-heads", ZeroHeads.class);
        m.put("keep-heads", KeepHeads.class);
        m.put("zero-neurons", ZeroNeurons.class);
        m.put("scale-neurons", ScaleNeurons.class);
        m.put("keep-neurons", KeepNeurons.class);
        m.put("zero-experts", ZeroExperts.class);
        m.put("prune-experts", PruneExperts.class);
        m.put("compact", Compact.class);
        m.put("merge-lora", MergeLora.class);
        return Collections.unmodifiableMap(m);
    }

    /** The op name as written in a recipe. */
    default String op() {
        return ops().entrySet().stream().filter(e -> e.getValue() == getClass()).findFirst().orElseThrow().getKey();
    }

    /**
     * The heads, neurons or experts the edit names, literally or as a {@link Reference}; null for
     * {@code compact} and {@code merge-lora}, which name none.
     */
    default Object components() {
        return switch (this) {
            case ZeroHeads z -> z.heads();
            case KeepHeads k -> k.heads();
            case ZeroNeurons z -> z.neurons();
            case ScaleNeurons s -> s.neurons();
            case KeepNeurons k -> k.neurons();
            case ZeroExperts z -> z.experts();
            case PruneExperts p -> p.experts();
            case Compact c -> null;
            case MergeLora m -> null;
        };
    }

    /** {@code zero-heads}: silence these heads (their output-projection columns; q/k/v rows where unshared). */
    record ZeroHeads(HeadSet heads) implements Edit {
        public ZeroHeads {
            requireHeads(heads);
        }
    }

    /** {@code keep-heads}: in {@code layers}, silence every head except these. */
    record KeepHeads(HeadSet heads, LayerRange layers) implements Edit {
        public KeepHeads {
            requireHeads(heads);
            requireLayers(layers, "the layers in which every other head is zeroed");
            if (heads instanceof HeadSet.Listed l) {
                requireInLayers(l.heads(), Head::layer, layers, "head");
            }
        }
    }

    /** {@code zero-neurons}: silence these FFN neurons (down column, matching up/gate rows and bias). */
    record ZeroNeurons(NeuronSet neurons) implements Edit {
        public ZeroNeurons {
            requireNeurons(neurons);
        }
    }

    /** {@code scale-neurons}: multiply these neurons' outputs by {@code factor}. */
    record ScaleNeurons(NeuronSet neurons, Double factor) implements Edit {
        public ScaleNeurons {
            requireNeurons(neurons);
            if (factor == null) {
                throw SchemaViolation.missingKey("factor", "the number each neuron's output is multiplied by");
            }
            // weights are float32 at most: a larger factor would make them infinite
            if (!Double.isFinite(factor) || Math.abs(factor) > Float.MAX_VALUE) {
                throw SchemaViolation.of("invalid value").at("factor").got(factor)
                        .allowed("a finite number of magnitude at most " + Float.MAX_VALUE + " (float32)");
            }
        }
    }

    /** {@code keep-neurons}: in {@code layers}, silence every FFN neuron except these (P1 §6.1 pruning). */
    record KeepNeurons(NeuronSet neurons, LayerRange layers) implements Edit {
        public KeepNeurons {
            requireNeurons(neurons);
            requireLayers(layers, "the layers in which every other neuron is zeroed");
            if (neurons instanceof NeuronSet.Listed l) {
                requireInLayers(l.neurons(), Neuron::layer, layers, "neuron");
            }
        }
    }

    /**
     * {@code zero-experts}: silence these routed experts (every unit's gate/up rows and down
     * column); the router and the expert count stay, so the others' routing weights are unchanged.
     */
    record ZeroExperts(ExpertSet experts) implements Edit {
        public ZeroExperts {
            requireExperts(experts);
        }
    }

    /**
     * {@code prune-experts}: remove these routed experts (router rows, expert tensors; the rest
     * renumbered) and lower config.json's expert count; the same number from every sparse layer.
     */
    record PruneExperts(ExpertSet experts) implements Edit {
        public PruneExperts {
            requireExperts(experts);
        }
    }

    /**
     * {@code compact}: physically remove zeroed components when the result is a valid uniform
     * config, rewriting config.json; otherwise the edit is refused with a reason.
     *
     * @param remove which kinds to remove (default both)
     * @param pad    pad every layer's FFN to the largest kept count when layers keep different counts
     */
    record Compact(List<ComponentKind> remove, Boolean pad) implements Edit {
        public Compact {
            if (remove == null) {
                remove = List.of(ComponentKind.HEADS, ComponentKind.NEURONS);
            }
            if (remove.isEmpty() || remove.stream().anyMatch(k -> k == null || k == ComponentKind.EXPERTS)
                    || EnumSet.copyOf(remove).size() != remove.size()) {
                throw SchemaViolation.of("invalid value").at("remove").gotText(String.valueOf(remove))
                        .allowed("a list of distinct kinds: heads, neurons");
            }
            remove = List.copyOf(remove);
            if (pad == null) {
                pad = false;
            }
        }
    }

    /**
     * {@code merge-lora}: write a PEFT LoRA adapter into the weights, W + scale·(α/r)·B·A (α/√r
     * with rsLoRA), each tensor in its own dtype.
     *
     * @param adapter the adapter directory (adapter_config.json, adapter_model.safetensors)
     * @param scale   the factor on the adapter's delta (default 1)
     */
    record MergeLora(java.nio.file.Path adapter, Double scale) implements Edit {
        public MergeLora {
            if (adapter == null) {
                throw SchemaViolation.missingKey("adapter", "a PEFT LoRA adapter directory");
            }
            if (scale == null) {
                scale = 1.0;
            }
            if (!Double.isFinite(scale)) {
                throw SchemaViolation.of("invalid value").at("scale").got(scale).allowed("a finite number");
            }
        }
    }

    /** Binds an edit by its {@code op}. */
    final class Deserializer extends DiscriminatedDeserializer<Edit> {
        Deserializer() {
            super(Edit.class, "op", ops(), "edit op");
        }
    }

    private static void requireHeads(HeadSet heads) {
        if (heads == null) {
            throw SchemaViolation.missingKey("heads", "heads as 17.22, a list of them, or ${id}");
        }
    }

    private static void requireNeurons(NeuronSet neurons) {
        if (neurons == null) {
            throw SchemaViolation.missingKey("neurons", "neurons as 22.2651, a list of them, or ${id}");
        }
    }

    private static void requireExperts(ExpertSet experts) {
        if (experts == null) {
            throw SchemaViolation.missingKey("experts",
                    "experts as {layer: 1, expert: 5}, 1.5 or [1, 5], a list of them, or ${id} of a select");
        }
    }

    /**
     * Throws unless every listed {@code kind} (head or neuron) of a keep edit lies in its kept
     * {@code layers}: one outside would not be kept, and every one of those layers would be zeroed.
     */
    private static <T> void requireInLayers(List<T> listed, ToIntFunction<T> layer, LayerRange layers, String kind) {
        for (int i = 0; i < listed.size(); i++) {
            if (!layers.contains(layer.applyAsInt(listed.get(i)))) {
                throw SchemaViolation.of(kind + " outside the kept layers " + layers + " (it would not be kept,"
                        + " and every " + kind + " of those layers would be zeroed)").at(kind + "s", i)
                        .gotText(listed.get(i).toString()).allowed(kind + "s in layers " + layers);
            }
        }
    }

    private static void requireLayers(LayerRange layers, String meaning) {
        if (layers == null) {
            throw SchemaViolation.missingKey("layers", meaning);
        }
    }
}
