package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.Head;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.NeuronLayout;
import org.neurotome.arch.TensorSlice;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * What the edits of one recipe share while they are lowered: the model's architecture and
 * shape, the heads and neurons silenced so far, and the config to write (replaced only by
 * a compacting edit).
 */
public final class EditContext {
    private final Architecture arch;
    private final ModelConfig config;
    private final HeadLayout heads;
    private final NeuronLayout neurons;
    private final TreeSet<Head> zeroedHeads = new TreeSet<>();
    private final TreeSet<Neuron> zeroedNeurons = new TreeSet<>();
    private boolean merged;
    private boolean expertsPruned;
    private final ObjectNode configJson;
    private ObjectNode rewrittenConfig;

    /** @param configJson the input's config.json, which a compacting edit copies and changes */
    public EditContext(Architecture arch, ModelConfig config, ObjectNode configJson) {
        this.arch = arch;
        this.config = config;
        this.configJson = configJson;
        this.heads = new HeadLayout(arch, config);
        this.neurons = new NeuronLayout(arch, config);
    }

    public Architecture arch() {
        return arch;
    }

    public ModelConfig config() {
        return config;
    }

    public HeadLayout heads() {
        return heads;
    }

    public NeuronLayout neurons() {
        return neurons;
    }

    public TreeSet<Head> zeroedHeads() {
        return zeroedHeads;
    }

    public TreeSet<Neuron> zeroedNeurons() {
        return zeroedNeurons;
    }

    /** Whether a LoRA adapter has been merged (its delta may have revived zeroed slices). */
    public boolean merged() {
        return merged;
    }

    void markMerged() {
        this.merged = true;
    }

    /** Whether experts have been removed and the rest renumbered (no edit may follow). */
    boolean expertsPruned() {
        return expertsPruned;
    }

    void markExpertsPruned() {
        this.expertsPruned = true;
    }

    /** The model's shape now: the input's, or the compacted one once a compacting edit has run. */
    public ModelConfig currentConfig() {
        return rewrittenConfig != null ? ModelConfig.from(rewrittenConfig) : config;
    }

    /** The config.json to write: the input's, or the one a compacting edit produced. */
    public ObjectNode configJson() {
        return rewrittenConfig != null ? rewrittenConfig : configJson;
    }

    /** The config.json a compacting edit produced, or null when the input's is kept. */
    public ObjectNode rewrittenConfig() {
        return rewrittenConfig;
    }

    void rewriteConfig(ObjectNode config) {
        this.rewrittenConfig = config;
    }

    /**
     * Groups slices into one scale edit per (tensor, axis), so a sweep over thousands of
     * neurons is a handful of passes over the weights.
     */
    static List<TensorEdit> scale(List<TensorSlice> slices, float factor) {
        Map<String, List<Integer>> grouped = new LinkedHashMap<>();
        for (TensorSlice s : slices) {
            List<Integer> idx = grouped.computeIfAbsent(s.tensor() + "\u0000" + s.axis(), k -> new ArrayList<>());
            for (long i = s.start(); i < s.end(); i++) {
                idx.add(Math.toIntExact(i));
            }
        }
        List<TensorEdit> out = new ArrayList<>();
        grouped.forEach((key, idx) -> {
            int sep = key.indexOf('\u0000');
            out.add(TensorEdit.scale(key.substring(0, sep), Integer.parseInt(key.substring(sep + 1)),
                    idx.stream().mapToInt(Integer::intValue).toArray(), factor));
        });
        return out;
    }
}
