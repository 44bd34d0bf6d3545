package org.neurotome.recipe;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.analysis.Analyses;
import org.neurotome.analysis.AnalysisSpec;
import org.neurotome.analysis.ShardStore;
import org.neurotome.arch.Head;
import org.neurotome.cna.Attribution;
import org.neurotome.cna.Findings;
import org.neurotome.cna.Progress;
import org.neurotome.cna.PromptSet;
import org.neurotome.cna.Provenance;
import org.neurotome.arch.LayerRange;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.LabelFilter;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.TextTokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Runs one {@code locate} analysis of a recipe on the loaded model through {@link Analyses}
 * and returns its findings: the prompts (each prompt × each given target,
 * or the model's own prediction), token ids or dataset cases become a {@link PromptSet};
 * CNA's side B is the same prompts with heads ablated, another checkpoint, the model with a
 * LoRA adapter, or the contrast prompts. A lora-scan (P1 §5) trains a LoRA per layer first and
 * compares the model with the best one.
 */
final class AnalysisRunner {
    private final LanguageModel model;
    private final ai.djl.Device device;
    private final Progress progress;
    private final Consumer<String> log;
    private final Function<Path, String> recorded;
    /** The best layer of each lora-scan step run so far, by step id (what {@code ${id}} in a LoRA's layers means). */
    private final Map<String, Integer> bestLayers = new LinkedHashMap<>();

    /**
     * @param log      one line per stage (a lora-scan's layers)
     * @param recorded how a path is written into findings (relative to the recipe's folder)
     */
    AnalysisRunner(LanguageModel model, ai.djl.Device device, Progress progress, Consumer<String> log,
                   Function<Path, String> recorded) {
        this.model = model;
        this.device = device;
        this.progress = progress;
        this.log = log;
        model.transformer().setProgress((done, total) -> progress.update("layers", done, total));
        this.recorded = recorded;
    }

    /**
     * @param alsoFor    smaller tops whose bounded searches the findings state too (a sweep's shared ranking)
     * @param selections what earlier steps' {@code ${id}}s stand for (CNA's {@code ablate})
     * @param perCase    keep each case's own ranking (a select asks for {@code per_case})
     * @param share      the stage's share of the memory budget, which a second model is opened under
     * @param shards     where the analysis's shards are computed, when it runs in shards
     */
    Findings run(Locate.Analysis a, List<Integer> alsoFor, Map<String, Selection> selections, boolean perCase,
                 MemoryBudget share, ShardStore shards) {
        PromptSet prompts = prompts(a, a.prompts());
        ObjectNode input = describe(a, prompts);
        ObjectNode parameters = parameters(a, perCase, Json.MAPPER.createObjectNode());
        TextTokenizer tok = model.tokenizer().orElse(null);
        Provenance prov = new Provenance(Provenance.model(model, recorded.apply(model.dir())), null, input, parameters);
        Analyses.Context ctx = context(a.id(), share, shards);
        return switch (a) {
            case Locate.HeadScan h -> Analyses.run(model, prompts, new AnalysisSpec.HeadScan(null, h.shards()), perCase, ctx,
                    out -> Findings.headScan(((Analyses.HeadScanned) out).result(), prov, 0, tok, perCase));
            case Locate.Attribution at -> Analyses.run(model, prompts,
                    new AnalysisSpec.Attribution(Attribution.NeuronPath.VALUE_PROJECTIONS, a.scoring().alsoFor(alsoFor),
                            at.shards()),
                    perCase, ctx,
                    out -> Findings.attribution(((Analyses.Attributed) out).result(), prov, 0, tok, perCase));
            case Locate.Cna c -> cna(c, alsoFor, prompts, selections, perCase, prov, tok, ctx);
            case Locate.LoraScan ls -> loraScan(ls, prompts, perCase, prov, tok, ctx);
            case Locate.ExpertScan es -> Analyses.run(model, prompts, new AnalysisSpec.ExpertScan(), false, ctx,
                    out -> Findings.expertScan(((Analyses.ExpertScanned) out).result(), prov, 0, tok));
            case Locate.ExpertAttribution ea -> Analyses.run(model, prompts, new AnalysisSpec.ExpertAttribution(),
                    perCase, ctx, out -> Findings.expertAttribution(((Analyses.ExpertsAttributed) out).result(), prov,
                            0, tok, perCase));
            case Locate.ExpertUsage eu -> Analyses.run(model, prompts, new AnalysisSpec.ExpertUsage(), false, ctx,
                    out -> Findings.expertUsage(((Analyses.ExpertsUsed) out).result(), prov, 0));
        };
    }

    /**
     * The parameters that analysis {@code a} records: its method, top, per_case and, when it
     * scores every component for a top K, exhaustive; then those of {@code recorded} (what a run of
     * the same analysis with another top recorded after these: CNA's contrast and ablation).
     */
    static ObjectNode parameters(Locate.Analysis a, boolean perCase, ObjectNode recorded) {
        ObjectNode parameters = Json.MAPPER.createObjectNode().put("method", a.method()).put("top", a.top())
                .put("per_case", perCase);
        if ((a instanceof Locate.Attribution || a instanceof Locate.Cna || a instanceof Locate.LoraScan)
                && a.scoring().exhaustive() && a.top() > 0) {
            parameters.put("exhaustive", true);
        }
        recorded.properties().forEach(e -> {
            if (!parameters.has(e.getKey()) && !e.getKey().equals("exhaustive")) {
                parameters.set(e.getKey(), e.getValue().deepCopy());
            }
        });
        return parameters;
    }

    /** The best layers of the lora-scan steps run so far, by step id. */
    Map<String, Integer> bestLayers() {
        return bestLayers;
    }

    private Analyses.Context context(String id, MemoryBudget share, ShardStore shards) {
        return new Analyses.Context(device, share, progress, line -> log.accept(id + ": " + line),
                (m, named) -> modelRecord(m, named), shards);
    }

    /**
     * P1 §5: a LoRA per layer of the scan, each scored on the score cases, then CNA between the
     * model (A) and the model with the best layer's LoRA (B) on the step's cases.
     */
    private Findings loraScan(Locate.LoraScan ls, PromptSet prompts, boolean perCase, Provenance prov,
                              TextTokenizer tok, Analyses.Context ctx) {
        LayerRange range = ls.scan() == null ? LayerRange.all(model.config()) : ls.scan().check(model.config());
        List<Integer> layers = new ArrayList<>();
        for (int l = range.first(); l <= range.last(); l++) {
            layers.add(l);
        }
        List<EvalCase> cases = new AnalysisInput.DatasetCases(ls.score().dataset(), ls.score().where(),
                ls.score().limit()).cases();
        if (cases.isEmpty()) {
            throw NeurotomeException.badInput("locate '" + ls.id() + "': no case of " + ls.score().dataset()
                    + " matches score.where " + ls.score().where());
        }
        AnalysisSpec.LoraScan spec = new AnalysisSpec.LoraScan(ls.train().data(), layers,
                l -> ls.train().atLayer(l).settings(model.config(), new LayerRange(l, l)), cases,
                ls.scoring(), ls.shards());
        return Analyses.run(model, prompts, spec, perCase, ctx, outcome -> {
            Analyses.Compared out = (Analyses.Compared) outcome;
            bestLayers.put(ls.id(), out.scan().best());
            ObjectNode scanJson = out.scan().toJson();
            scanJson.set("train", ls.train().describe(recorded));
            scanJson.set("score", Provenance.dataset(ls.score().dataset(), recorded.apply(ls.score().dataset()),
                    labels(ls.score().where()), ls.score().limit(), cases.size()));
            prov.parameters().set("lora_scan", scanJson);
            Provenance withB = new Provenance(prov.model(), out.modelB(), prov.input(), prov.parameters());
            return Findings.comparison(out.result(), withB, 0, 10, tok, perCase);
        });
    }

    /** A model named by {@code named}, with its adapter, as findings record them: both paths through {@code recorded}. */
    private ObjectNode modelRecord(LanguageModel m, Path named) {
        ObjectNode o = Provenance.model(m, recorded.apply(named));
        m.overlay().filter(a -> a.dir() != null)
                .ifPresent(a -> ((ObjectNode) o.get("adapter")).put("path", recorded.apply(a.dir())));
        return o;
    }

    private static Map<String, String> labels(LabelFilter where) {
        Map<String, String> out = new LinkedHashMap<>();
        where.labels().forEach((k, v) -> out.put(k, String.join("|", v)));
        return out;
    }

    private Findings cna(Locate.Cna c, List<Integer> alsoFor, PromptSet prompts, Map<String, Selection> selections, boolean perCase,
                         Provenance prov, TextTokenizer tok, Analyses.Context ctx) {
        AnalysisSpec.Against against = switch (c.comparison()) {
            case CnaComparison.AblatedHeads ab -> {
                List<Head> heads = Selection.heads(ab.heads(), selections);
                prov.parameters().put("ablate", heads.toString());
                yield new AnalysisSpec.AblatedHeads(heads);
            }
            case CnaComparison.OtherCheckpoint oc -> new AnalysisSpec.OtherCheckpoint(oc.checkpoint());
            case CnaComparison.WithAdapter wa -> new AnalysisSpec.WithAdapter(wa.adapter());
            case CnaComparison.ContrastPrompts cp -> {
                if (c.prompts() == null || cp.prompts().size() != c.prompts().size()) {
                    throw NeurotomeException.badInput("locate '" + c.id() + "': contrast has " + cp.prompts().size()
                            + " prompts for " + (c.prompts() == null ? "no text" : c.prompts().size()) + " prompts; give one contrast prompt per text prompt");
                }
                prov.parameters().putPOJO("contrast", cp.prompts());
                yield new AnalysisSpec.ContrastPrompts(contrast(c, prompts, cp.prompts()));
            }
        };
        return Analyses.run(model, prompts, new AnalysisSpec.Cna(against, Attribution.NeuronPath.VALUE_PROJECTIONS,
                c.scoring().alsoFor(alsoFor)),
                perCase, ctx, outcome -> {
                    Analyses.Compared out = (Analyses.Compared) outcome;
                    Provenance withB = out.modelB() == null ? prov
                            : new Provenance(prov.model(), out.modelB(), prov.input(), prov.parameters());
                    return Findings.comparison(out.result(), withB, 0, 10, tok, perCase);
                });
    }

    /** Side B of a contrast: each case's prompt replaced by its prompt's contrast, targets kept (A's). */
    private PromptSet contrast(Locate.Cna c, PromptSet a, List<String> contrast) {
        int perPrompt = Math.max(1, c.target().size());
        List<int[]> ids = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < a.cases().size(); i++) {
            String text = contrast.get(i / perPrompt);
            ids.add(model.encode(text));
            texts.add(text);
        }
        return a.withPrompts(ids, texts);
    }

    /** The step's cases, with {@code texts} standing for its prompts (its own, or CNA's contrast prompts). */
    private PromptSet prompts(Locate.Analysis a, List<String> texts) {
        return switch (a.input()) {
            case AnalysisInput.Prompts p -> {
                List<PromptSet.Case> cases = new ArrayList<>();
                for (String text : texts) {
                    if (a.target().isEmpty()) {
                        cases.addAll(PromptSet.ofText(model, text, null).cases());
                    }
                    for (String t : a.target()) {
                        cases.addAll(PromptSet.ofText(model, text, t).cases());
                    }
                }
                yield PromptSet.of(cases);
            }
            case AnalysisInput.TokenIds ids -> {
                if (!a.target().isEmpty()) {
                    throw NeurotomeException.badInput("locate '" + a.id() + "': token_ids are scored on the model's own "
                            + "prediction; a text target needs text prompts");
                }
                yield PromptSet.ofIds(ids.sequences().stream()
                        .map(s -> s.stream().mapToInt(Integer::intValue).toArray()).toList());
            }
            case AnalysisInput.DatasetCases d -> {
                List<EvalCase> kept = d.cases();
                if (kept.isEmpty()) {
                    throw NeurotomeException.badInput("locate '" + a.id() + "': no case of " + d.dataset()
                            + " matches where " + d.where().labels());
                }
                yield PromptSet.ofCases(model, kept, recorded.apply(d.dataset()));
            }
        };
    }

    private ObjectNode describe(Locate.Analysis a, PromptSet prompts) {
        if (a.input() instanceof AnalysisInput.DatasetCases d) {
            Map<String, String> where = new LinkedHashMap<>();
            d.where().labels().forEach((k, v) -> where.put(k, String.join("|", v)));
            return Provenance.dataset(d.dataset(), recorded.apply(d.dataset()), where, d.limit(), prompts.cases().size());
        }
        ObjectNode o = Json.MAPPER.createObjectNode().put("kind", "prompts").put("cases", prompts.cases().size());
        var list = o.putArray("prompts");
        prompts.cases().forEach(c -> list.add(c.describe()));
        return o;
    }
}
