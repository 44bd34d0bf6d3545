package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.lora.LoraConfig;
import org.neurotome.lora.LoraDelta;
import org.neurotome.lora.LoraModule;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code merge-lora}: writes a PEFT LoRA adapter into the checkpoint, each adapted tensor
 * becoming W + scale·(α/r)·B·A (α/√r with rsLoRA) in the tensor's own storage order and
 * dtype — what PEFT's {@code merge_and_unload} computes (peft/tuners/lora/layer.py
 * {@code merge}, {@code get_delta_weight}). The deltas are those of {@link LoraDelta}, the
 * same that {@code --adapter} adds to a model as it is read, so a merged checkpoint runs as
 * the model with its adapter. After edits that zero or compact, the adapter is checked
 * against the shapes those edits left.
 */
public final class MergeLora implements Edit {
    private final LoraAdapter adapter;
    private final double scale;
    private final String recordedAs;
    /** The modules the adapter changed, once lowered. */
    private List<LoraModule> merged = List.of();

    /**
     * An adapter recorded in the manifest by its absolute path.
     *
     * @param scale the factor on every delta (1: the adapter as trained; −1 takes a merged adapter out again)
     */
    public MergeLora(LoraAdapter adapter, double scale) {
        this(adapter, scale, adapter.dir() == null ? null : adapter.dir().toAbsolutePath().normalize().toString());
    }

    /**
     * @param scale      the factor on every delta
     * @param recordedAs how the manifest names the adapter (the output's own {@code adapter/} for
     *                   one a recover stage trained, whose scratch directory is gone)
     */
    public MergeLora(LoraAdapter adapter, double scale, String recordedAs) {
        if (!Double.isFinite(scale)) {
            throw NeurotomeException.badInput("merge-lora: scale " + scale + " must be a finite number");
        }
        this.adapter = adapter;
        this.scale = scale;
        this.recordedAs = recordedAs;
    }

    @Override
    public String op() {
        return "merge-lora";
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        Architecture arch = ctx.arch();
        List<LoraModule> modules = adapter.bind(arch, ctx.currentConfig());
        merged = modules;
        List<TensorEdit> out = new ArrayList<>();
        for (LoraModule m : modules) {
            LoraDelta d = LoraDelta.of(m, arch.weightLayout(), scale);
            String what = String.format(java.util.Locale.ROOT, "lora %s, rank %d, scale %s", m.module(), m.rank(),
                    Double.toString(scale * m.scale()));
            out.add(TensorEdit.add(m.tensor(), new TensorEdit.Addend() {
                @Override
                public void addTo(float[] values, long[] shape) {
                    if (!Arrays.equals(shape, d.shape())) {
                        throw NeurotomeException.badCheckpoint("merge-lora: tensor '" + m.tensor() + "' has shape "
                                + Arrays.toString(shape) + " here, the adapter's " + m.module() + " needs "
                                + Arrays.toString(d.shape()));
                    }
                    d.addTo(values);
                }

                @Override
                public String describe() {
                    return what;
                }
            }));
        }
        ctx.markMerged();
        return out;
    }

    @Override
    public ObjectNode describe() {
        LoraConfig c = adapter.config();
        ObjectNode o = Json.MAPPER.createObjectNode().put("op", op());
        o.put("adapter", recordedAs);
        o.put("adapter_sha256", adapter.fingerprint());
        o.put("scale", scale);
        o.put("r", c.r());
        o.put("lora_alpha", c.alpha());
        o.put("use_rslora", c.useRslora());
        if (c.targetModules() != null) {
            ArrayNode t = o.putArray("target_modules");
            c.targetModules().forEach(t::add);
        } else {
            o.put("target_modules", c.targetPattern());
        }
        ArrayNode mods = o.putArray("modules");
        for (LoraModule m : merged) {
            mods.addObject().put("module", m.module()).put("tensor", m.tensor()).put("rank", m.rank())
                    .put("lora_alpha", m.alpha()).put("scale", scale * m.scale());
        }
        return o;
    }
}
