package org.neurotome.recipe;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.Expert;
import org.neurotome.arch.Head;
import org.neurotome.arch.LayerRange;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Neuron;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.yaml.Document;
import org.neurotome.yaml.SchemaViolation;

import java.util.List;

/**
 * Checks a recipe's literal values against the inputs they refer to when the recipe is
 * loaded: heads, neurons, experts, layer ranges (a lora-scan's and recover's too, and a
 * lora-scan's shards against the layers it scans), token ids
 * and a select of experts (with the prune-experts it feeds) against the model's {@code config.json},
 * and each analysis's {@code where} against its data set. A value that would fail once the
 * run reaches it is reported at the line that writes it (exit 2) — before hours of analysis,
 * and by {@code --dry-run} too. A model whose config cannot be read is left to the run, which
 * reports it as a bad checkpoint.
 */
final class InputFit {
    private InputFit() {
    }

    static void check(Document<Recipe> doc) {
        Recipe r = doc.value();
        for (int i = 0; i < r.locate().size(); i++) {
            if (r.locate().get(i) instanceof Locate.Analysis a && a.input() instanceof AnalysisInput.DatasetCases d
                    && d.cases().isEmpty()) {
                java.util.Set<String> labels = new java.util.TreeSet<>();
                new AnalysisInput.DatasetCases(d.dataset(), org.neurotome.eval.LabelFilter.ALL, null).cases()
                        .forEach(e -> labels.addAll(e.labels().keySet()));
                for (String key : d.where().labels().keySet()) {
                    if (!labels.contains(key)) {
                        throw doc.error("locate." + i + ".where", SchemaViolation.of("no case of " + d.dataset()
                                + " has this label").got(key).allowedWords(key, List.copyOf(labels)));
                    }
                }
                throw doc.error("locate." + i + (d.where().labels().isEmpty() ? ".dataset" : ".where"),
                        SchemaViolation.of("no case of " + d.dataset() + " left to analyse")
                                .gotText(d.where().labels().isEmpty() ? "an empty data set" : "where " + d.where().labels())
                                .allowed("a filter that some case matches"));
            }
        }
        ModelConfig c;
        try (Checkpoint ck = Checkpoint.open(r.model().path())) {
            c = ModelConfig.from(ck);
        } catch (NeurotomeException e) {
            return;
        }
        for (int i = 0; i < r.locate().size(); i++) {
            if (r.locate().get(i) instanceof Locate.Analysis a) {
                layers(doc, a.layers(), "locate." + i + ".layers", c);
                if (a instanceof Locate.Cna cna && cna.ablate() instanceof HeadSet.Listed l) {
                    heads(doc, l.heads(), "locate." + i + ".ablate", c);
                }
                if (a instanceof Locate.LoraScan scan) {
                    layers(doc, scan.scan(), "locate." + i + ".scan", c);
                    LayerRange scanned = scan.scan() == null ? LayerRange.all(c) : scan.scan().check(c);
                    int n = scanned.last() - scanned.first() + 1;
                    if (scan.shards() > n) {
                        throw doc.error("locate." + i + ".shards", SchemaViolation.of("more shards than layers scanned")
                                .got(scan.shards()).allowed("1 to " + n + " (a shard trains whole layers; the scan has "
                                        + n + "); give shards: " + n + " or fewer"));
                    }
                }
                List<List<Integer>> ids = a.tokenIds() == null ? List.of() : a.tokenIds();
                for (int s = 0; s < ids.size(); s++) {
                    for (int t = 0; t < ids.get(s).size(); t++) {
                        int id = ids.get(s).get(t);
                        if (id < 0 || id >= c.vocabSize()) {
                            throw doc.error("locate." + i + ".token_ids." + s + "." + t, SchemaViolation
                                    .of("token id outside the vocabulary").got(id)
                                    .allowed("0 to " + (c.vocabSize() - 1) + " (vocab_size " + c.vocabSize() + ")"));
                        }
                    }
                }
            }
        }
        for (int j = 0; j < r.select().size(); j++) {
            layers(doc, r.select().get(j).layers(), "select." + j + ".layers", c);
            if (r.select().get(j).kind() == ComponentKind.EXPERTS) {
                lowestExperts(doc, j, c);
            }
        }
        for (int k = 0; k < r.edit().size(); k++) {
            String at = "edit." + k;
            switch (r.edit().get(k)) {
                case Edit.ZeroHeads e -> heads(doc, e.heads(), at + ".heads", c);
                case Edit.KeepHeads e -> {
                    heads(doc, e.heads(), at + ".heads", c);
                    layers(doc, e.layers(), at + ".layers", c);
                }
                case Edit.ZeroNeurons e -> neurons(doc, e.neurons(), at + ".neurons", c);
                case Edit.ScaleNeurons e -> neurons(doc, e.neurons(), at + ".neurons", c);
                case Edit.KeepNeurons e -> {
                    neurons(doc, e.neurons(), at + ".neurons", c);
                    layers(doc, e.layers(), at + ".layers", c);
                }
                case Edit.ZeroExperts e -> experts(doc, e.experts(), at + ".experts", c);
                case Edit.PruneExperts e -> {
                    experts(doc, e.experts(), at + ".experts", c);
                    prunedPerLayer(doc, e.experts(), at + ".experts", c);
                }
                case Edit.Compact e -> {
                    // acts on what earlier edits zeroed
                }
                case Edit.MergeLora e -> {
                    // the adapter is checked against the model when the edit is lowered (exit 3)
                }
            }
        }
        if (r.recover() != null && r.recover().layers() instanceof LayerSource.Range range) {
            layers(doc, range.range(), "recover.layers", c);
        }
    }

    private static void heads(Document<Recipe> doc, HeadSet set, String key, ModelConfig c) {
        if (set instanceof HeadSet.Listed l) {
            heads(doc, l.heads(), key, c);
        }
    }

    private static void heads(Document<Recipe> doc, List<Head> heads, String key, ModelConfig c) {
        for (int i = 0; i < heads.size(); i++) {
            Head h = heads.get(i);
            if (h.layer() >= c.numLayers() || h.head() >= c.numHeads()) {
                throw doc.error(key + "." + i, SchemaViolation.of("no such head in the model").gotText(h.toString())
                        .allowed("layers 0-" + (c.numLayers() - 1) + ", heads 0-" + (c.numHeads() - 1)));
            }
        }
    }

    /**
     * A select of the lowest experts needs findings that rank every expert of the sparse layers
     * it takes (its locate step's {@code top} 0 or at least all of them, its {@code layers}
     * including them) and at most a layer's count.
     */
    private static void lowestExperts(Document<Recipe> doc, int j, ModelConfig c) {
        Recipe r = doc.value();
        Select s = r.select().get(j);
        int count = c.features().experts().count();
        if (count > 0 && s.lowest() > count) {
            throw doc.error("select." + j + ".lowest", SchemaViolation.of("more experts than a sparse layer has")
                    .got(s.lowest()).allowed("1-" + count));
        }
        List<Integer> sparse = Expert.sparseLayers(c);
        int all = sparse.size() * count;
        for (int i = 0; i < r.locate().size(); i++) {
            if (!(r.locate().get(i) instanceof Locate.Analysis a) || !a.id().equals(s.from())) {
                continue;
            }
            if (a.top() > 0 && a.top() < all) {
                throw doc.error("locate." + i + ".top", SchemaViolation.of("select." + j + " takes the lowest-ranked"
                        + " experts of every sparse layer, which a top cuts off").got(a.top())
                        .allowed("0 (every expert ranked) or at least " + all));
            }
            List<Integer> unranked = sparse.stream().filter(l -> (s.layers() == null || s.layers().contains(l))
                    && a.layers() != null && !a.layers().contains(l)).toList();
            if (!unranked.isEmpty()) {
                throw doc.error("locate." + i + ".layers", SchemaViolation.of("select." + j + " takes the"
                        + " lowest-ranked experts of sparse layers " + unranked + ", which these layers leave unranked")
                        .gotText(a.layers().toString()).allowed("layers that include every sparse layer the select takes"));
            }
        }
    }

    /**
     * A prune-experts of a select's lowest experts removes that many from every sparse layer in
     * the select's layers: every sparse layer must be among them and at least top-k must stay.
     */
    private static void prunedPerLayer(Document<Recipe> doc, ExpertSet set, String key, ModelConfig c) {
        if (!(set instanceof Reference ref)) {
            return;
        }
        Select s = doc.value().select().stream().filter(x -> x.id().equals(ref.id())).findFirst().orElseThrow();
        org.neurotome.arch.Experts x = c.features().experts();
        if (x.count() == 0) {
            return;  // the expert analysis refuses a dense model
        }
        List<Integer> sparse = Expert.sparseLayers(c);
        List<Integer> outside = sparse.stream().filter(l -> s.layers() != null && !s.layers().contains(l)).toList();
        if (!outside.isEmpty()) {
            throw doc.error(key, SchemaViolation.of("prune-experts removes the same number from every sparse layer")
                    .gotText("'" + ref + "' (" + s.id() + " chooses none in sparse layers " + outside + ")")
                    .allowed("a select whose layers cover every sparse layer " + sparse));
        }
        if (x.count() - s.lowest() < x.topK()) {
            throw doc.error(key, SchemaViolation.of("prune-experts would leave fewer experts than each position is"
                    + " routed to").gotText("'" + ref + "' (lowest " + s.lowest() + " of " + x.count() + ")")
                    .allowed("lowest at most " + (x.count() - x.topK()) + " (num_experts_per_tok " + x.topK() + ")"));
        }
    }

    private static void experts(Document<Recipe> doc, ExpertSet set, String key, ModelConfig c) {
        if (!(set instanceof ExpertSet.Listed listed)) {
            return;
        }
        List<Integer> sparse = Expert.sparseLayers(c);
        int count = c.features().experts().count();
        for (int i = 0; i < listed.experts().size(); i++) {
            Expert e = listed.experts().get(i);
            if (!sparse.contains(e.layer()) || e.expert() >= count) {
                throw doc.error(key + "." + i, SchemaViolation.of("no such expert in the model").gotText(e.toString())
                        .allowed(count == 0 ? "none: this " + c.modelType() + " model has no experts"
                                : "sparse layers " + sparse + ", experts 0-" + (count - 1)));
            }
        }
    }

    private static void neurons(Document<Recipe> doc, NeuronSet set, String key, ModelConfig c) {
        if (!(set instanceof NeuronSet.Listed l)) {
            return;
        }
        for (int i = 0; i < l.neurons().size(); i++) {
            Neuron n = l.neurons().get(i);
            if (n.layer() >= c.numLayers() || n.neuron() >= c.ffnWidth(n.layer())) {
                throw doc.error(key + "." + i, SchemaViolation.of("no such neuron in the model").gotText(n.toString())
                        .allowed("layers 0-" + (c.numLayers() - 1) + ", neurons 0-" + (c.ffnSize() - 1)));
            }
        }
    }

    private static void layers(Document<Recipe> doc, LayerRange range, String key, ModelConfig c) {
        if (range != null && (range.first() >= c.numLayers() || range.last() != null && range.last() >= c.numLayers())) {
            throw doc.error(key, SchemaViolation.of("layer range past the model's last layer").gotText(range.toString())
                    .allowed("layers 0-" + (c.numLayers() - 1)));
        }
    }
}
