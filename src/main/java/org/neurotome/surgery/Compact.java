package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.NeuronLayout;
import org.neurotome.arch.Role;
import org.neurotome.arch.TensorSlice;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;

/**
 * {@code compact}: physically removes what the earlier edits of the recipe zeroed
 * (docs/method.md A5) and rewrites {@code config.json}. FFN neurons: every layer must end with
 * the same width; when layers lost different numbers, {@code pad} keeps some zeroed ones
 * (the lowest-indexed) in the layers that lost more, and without it the edit refuses. The
 * removed neurons contribute exactly 0, so the model's function is unchanged. Heads: only when every layer lost the same number of whole
 * key/value groups, the family's config can state {@code head_dim} explicitly and its q/k
 * norms (if any) act per head; otherwise the edit refuses with the reason.
 */
public final class Compact implements Edit {
    private final boolean neurons;
    private final boolean heads;
    private final boolean pad;

    public Compact(boolean neurons, boolean heads, boolean pad) {
        this.neurons = neurons;
        this.heads = heads;
        this.pad = pad;
    }

    @Override
    public String op() {
        return "compact";
    }

    @Override
    public List<TensorEdit> lower(EditContext ctx) {
        if (ctx.merged()) {
            throw NeurotomeException.badInput("compact after merge-lora: the merged delta may have changed the zeroed "
                    + "slices compact would remove; put merge-lora after compact");
        }
        ModelConfig c = ctx.config();
        ObjectNode config = ctx.configJson().deepCopy();
        List<TensorEdit> out = new ArrayList<>();
        if (neurons && !ctx.zeroedNeurons().isEmpty()) {
            int width = compactNeurons(ctx, out);
            config.put(key(ctx, "ffn_size"), width);
        }
        if (heads && !ctx.zeroedHeads().isEmpty()) {
            compactHeads(ctx, out, config);
        }
        if (!out.isEmpty()) {
            ModelConfig.from(config); // the rewritten config must read back as a valid model
            ctx.rewriteConfig(config);
        }
        return out;
    }

    private static String key(EditContext ctx, String field) {
        String key = ctx.arch().configKey(field);
        if (key == null) {
            throw NeurotomeException.badInput("compact: " + ctx.arch().modelType() + " configs have no key for "
                    + field + ", so the compacted shape cannot be written");
        }
        return key;
    }

    private int compactNeurons(EditContext ctx, List<TensorEdit> out) {
        ModelConfig c = ctx.config();
        if (c.features().experts().count() > 0) {
            throw NeurotomeException.badInput("compact: " + c.modelType() + " is a mixture of experts, whose FFN widths"
                    + " (intermediate_size and the experts') are not compacted; zeroed neurons stay as zeros");
        }
        int width = 0;
        List<int[]> keep = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            int layer = l;
            int[] kept = IntStream.range(0, c.ffnSize())
                    .filter(k -> !ctx.zeroedNeurons().contains(new Neuron(layer, k))).toArray();
            if (!pad && l > 0 && kept.length != keep.getFirst().length) {
                throw NeurotomeException.badInput("compact: layer 0 keeps " + keep.getFirst().length + " FFN neurons but layer "
                        + l + " keeps " + kept.length + "; a config has one FFN width for every layer (set pad: true to keep "
                        + "zeroed neurons as padding up to the widest layer)");
            }
            keep.add(kept);
            width = Math.max(width, kept.length);
        }
        if (width == 0) {
            width = 1; // a layer needs at least one (zero) neuron to stay a valid FFN
        }
        NeuronLayout layout = ctx.neurons();
        for (int l = 0; l < c.numLayers(); l++) {
            TreeSet<Integer> kept = new TreeSet<>();
            for (int k : keep.get(l)) {
                kept.add(k);
            }
            for (int k = 0; kept.size() < width; k++) {
                kept.add(k); // padding: zeroed neurons whose output is exactly 0
            }
            // every kept neuron's rows and columns, per tensor and axis (Phi-3's gate_up keeps k and I + k)
            Map<String, TreeSet<Integer>> idx = new LinkedHashMap<>();
            for (int k : kept) {
                List<TensorSlice> slices = new ArrayList<>(layout.inputSlices(l, k));
                slices.add(layout.valueSlice(l, k));
                for (TensorSlice sl : slices) {
                    TreeSet<Integer> rows = idx.computeIfAbsent(sl.tensor() + "\u0000" + sl.axis(), x -> new TreeSet<>());
                    for (long i = sl.start(); i < sl.end(); i++) {
                        rows.add(Math.toIntExact(i));
                    }
                }
            }
            idx.forEach((key, rows) -> {
                int sep = key.indexOf('\u0000');
                out.add(TensorEdit.keep(key.substring(0, sep), Integer.parseInt(key.substring(sep + 1)),
                        rows.stream().mapToInt(Integer::intValue).toArray()));
            });
        }
        return width;
    }

    private void compactHeads(EditContext ctx, List<TensorEdit> out, ObjectNode config) {
        ModelConfig c = ctx.config();
        HeadLayout layout = ctx.heads();
        if (ctx.arch().fusedQkv()) {
            throw refuse(ctx, "its q, k and v share one fused matrix ('" + ctx.arch().tensorName(Role.QKV, 0)
                    + "') whose heads must stay hidden_size / num_heads wide, and its config cannot state head_dim");
        }
        if (ctx.arch().qkNormWhole()) {
            throw refuse(ctx, "its q/k norms ('" + ctx.arch().tensorName(Role.Q_NORM, 0) + "') act on the whole q and k"
                    + " projections, so removing a head would renormalise every other one");
        }
        if (ctx.arch().configKey("head_dim") == null) {
            throw refuse(ctx, "its config cannot state head_dim, which must stay hidden_size / num_heads");
        }
        int removedGroups = -1;
        List<int[]> keptKv = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            List<Integer> kv = new ArrayList<>();
            for (int g = 0; g < c.numKvHeads(); g++) {
                int layer = l;
                int[] q = layout.queryHeads(g);
                long zeroed = IntStream.of(q).filter(h -> ctx.zeroedHeads().contains(new Head(layer, h))).count();
                if (zeroed != 0 && zeroed != q.length) {
                    throw refuse(ctx, "layer " + l + " zeroes only part of key/value group " + g
                            + " (query heads " + java.util.Arrays.toString(q) + "); only whole groups can be removed");
                }
                if (zeroed == 0) {
                    kv.add(g);
                }
            }
            int removed = c.numKvHeads() - kv.size();
            if (removedGroups >= 0 && removed != removedGroups) {
                throw refuse(ctx, "layers zero different numbers of head groups (" + removedGroups + " and " + removed
                        + " in layer " + l + "); a config has one head count for every layer");
            }
            if (kv.isEmpty()) {
                throw refuse(ctx, "layer " + l + " zeroes every head; a layer needs at least one");
            }
            removedGroups = removed;
            keptKv.add(kv.stream().mapToInt(Integer::intValue).toArray());
        }
        int hd = c.headDim();
        for (int l = 0; l < c.numLayers(); l++) {
            Set<Integer> qIdx = new TreeSet<>();
            Set<Integer> kvIdx = new TreeSet<>();
            for (int g : keptKv.get(l)) {
                for (int d = 0; d < hd; d++) {
                    kvIdx.add(g * hd + d);
                }
                for (int h : layout.queryHeads(g)) {
                    for (int d = 0; d < hd; d++) {
                        qIdx.add(h * hd + d);
                    }
                }
            }
            int[] q = qIdx.stream().mapToInt(Integer::intValue).toArray();
            int[] kv = kvIdx.stream().mapToInt(Integer::intValue).toArray();
            out.add(TensorEdit.keep(ctx.arch().tensorName(Role.O, l), layout.inAxis(), q));
            keepProjection(ctx, l, Role.Q, Role.Q_BIAS, q, out);
            keepProjection(ctx, l, Role.K, Role.K_BIAS, kv, out);
            keepProjection(ctx, l, Role.V, Role.V_BIAS, kv, out);
        }
        int kvHeads = c.numKvHeads() - removedGroups;
        config.put(key(ctx, "num_heads"), kvHeads * c.groupSize());
        config.put(key(ctx, "num_kv_heads"), kvHeads);
        config.put(key(ctx, "head_dim"), hd);
    }

    private static void keepProjection(EditContext ctx, int layer, Role weight, Role bias, int[] idx, List<TensorEdit> out) {
        out.add(TensorEdit.keep(ctx.arch().tensorName(weight, layer), ctx.heads().outAxis(), idx));
        if (ctx.arch().has(bias, ctx.config())) {
            out.add(TensorEdit.keep(ctx.arch().tensorName(bias, layer), 0, idx));
        }
    }

    private static NeurotomeException refuse(EditContext ctx, String reason) {
        return NeurotomeException.badInput("compact cannot remove the zeroed heads of this "
                + ctx.arch().modelType() + " model: " + reason + " (remove: [neurons] compacts the neurons only)");
    }

    @Override
    public ObjectNode describe() {
        return Json.MAPPER.createObjectNode().put("op", op()).put("neurons", neurons).put("heads", heads).put("pad", pad);
    }
}
