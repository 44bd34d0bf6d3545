package org.neurotome.recipe;

import org.neurotome.arch.LayerRange;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.eval.Task;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.Residency;
import org.neurotome.model.Weights;
import org.neurotome.release.ModelCard;
import org.neurotome.surgery.Surgeon;
import org.neurotome.surgery.TensorEdit;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * Makes the {@link Plan} of a recipe, which {@code neurotome apply --dry-run} prints: the stages in order, each analysis with
 * its inputs and forward passes, the tensors each edit touches (exact for listed heads and
 * neurons; by role for ones chosen at run time), the output, whether the weights are kept or
 * streamed one layer at a time under the run's memory budget (and then how many passes read the
 * checkpoint), the share of the budget each stage that runs a model works in, and each stage's
 * time and memory ({@link CostModel}). Only checkpoint headers
 * and datasets are read; nothing is written.
 */
public final class Planner {

    private Planner() {
    }

    /**
     * The plan of {@code recipe} with its models opened under {@code budget}; what would fail
     * at once when the recipe runs fails here too (findings files of another model or without
     * the kind an edit needs, ...).
     *
     * @param recipeFile      the recipe's file: the stages name the files they read relative to its folder, as
     *                        an output's manifest records them
     * @param allowOtherModel use findings files computed on another model
     */
    public static Plan plan(Path recipeFile, Recipe recipe, boolean allowOtherModel, MemoryBudget budget) {
        Function<Path, String> recorded = RecipeRunner.recordedRelativeTo(recipeFile);
        List<Plan.Stage> b = new ArrayList<>();
        Plan.Residency residency = null;
        try (Checkpoint input = Checkpoint.open(recipe.model().path())) {
            ModelConfig c = ModelConfig.from(input);
            long params = input.tensors().values().stream().mapToLong(TensorInfo::numel).sum();
            long bytes = input.tensors().values().stream().mapToLong(TensorInfo::byteLength).sum();
            b.add(new Plan.Model(recorded.apply(recipe.model().path()), c.modelType(), c.numLayers(), c.numHeads(),
                    c.numKvHeads(), c.ffnSize(), params, bytes));
            boolean runsModel = false;
            int passes = 0;
            Map<String, Integer> kept = new LinkedHashMap<>();
            for (int i = 0; i < recipe.locate().size(); i++) {
                Locate step = recipe.locate().get(i);
                switch (step) {
                    case Locate.FindingsFile f -> {
                        FindingsFileStep.direct(recipe, f, i, FindingsFileStep.read(f, i, recipe.model().path(),
                                allowOtherModel));
                        b.add(new Plan.FindingsFrom(f.id(), recorded.apply(f.from())));
                    }
                    case Locate.Analysis a -> {
                        int cases = cases(a);
                        long forwards = switch (a) {
                            case Locate.HeadScan h -> (long) cases * (1 + (long) c.numLayers() * c.numHeads());
                            case Locate.ExpertScan es -> (long) cases * (1 + (long) c.numLayers()
                                    * c.features().experts().count());
                            case Locate.Attribution at -> cases;
                            case Locate.ExpertAttribution ea -> cases;
                            case Locate.ExpertUsage eu -> cases;
                            case Locate.Cna cn -> 2L * cases;
                            case Locate.LoraScan ls -> 2L * cases + layers(ls.scan(), c)
                                    * (3L * ls.train().steps() * ls.train().batchSize() + 2L * scoreCases(ls.score()));
                        };
                        runsModel = true;
                        passes += switch (a) {
                            case Locate.HeadScan h -> 2;
                            case Locate.Attribution at -> 2;
                            case Locate.ExpertScan es -> 2;
                            case Locate.ExpertAttribution ea -> 2;
                            case Locate.ExpertUsage eu -> 2;
                            case Locate.Cna cn -> 3;
                            case Locate.LoraScan ls -> 3; // its LoRAs train on kept weights only
                        };
                        b.add(new Plan.Analyse(a.id(), a.method(), input(a, recorded), cases, forwards, a.top(), null));
                    }
                }
                kept.put(step.id(), step instanceof Locate.Analysis a ? a.top() : 0);
            }
            for (Select s : recipe.select()) {
                b.add(new Plan.Select(s.id(), s.from(), s.kind().name().toLowerCase(Locale.ROOT), s.top(), s.threshold(),
                        s.layers() == null ? null : s.layers().toString(), s.perCase(), s.lowest()));
            }
            List<org.neurotome.surgery.Edit> literal = new ArrayList<>();
            boolean allLiteral = true;
            for (Edit e : recipe.edit()) {
                if (references(e)) {
                    allLiteral = false;
                    b.add(new Plan.EditAtRunTime(e.op(), referenced(e), touched(e)));
                } else {
                    literal.add(EditBuilder.build(e, Map.of()));
                }
            }
            if (allLiteral) {
                Surgeon.Lowered lowered = Surgeon.lower(input, literal);
                for (TensorEdit t : lowered.tensorEdits()) {
                    b.add(switch (t.kind()) {
                        case ADD -> new Plan.EditTensor(t.tensor(), "add", null, null, null, t.addend().describe());
                        case RENAME -> new Plan.EditTensor(t.tensor(), "rename", null, null, null, t.into());
                        case DROP -> new Plan.EditTensor(t.tensor(), "drop", null, null, null, null);
                        case SCALE, KEEP -> new Plan.EditTensor(t.tensor(), t.kind().name().toLowerCase(Locale.ROOT), t.axis(),
                            Surgeon.ranges(t.indices()), t.indices().length, null);
                    });
                }
                if (lowered.config() != input.config()) {
                    b.add(new Plan.RewriteConfig(String.valueOf(lowered.config())));
                }
            } else if (!literal.isEmpty()) {
                b.add(new Plan.EditListed(literal.size()));
                compactCheck(input, recipe.edit());
            }
            LoraTraining rec = recipe.recover();
            if (rec != null) {
                runsModel = true;
                b.add(new Plan.Recover(rec.rank(), rec.alpha(), rec.rslora(),
                        rec.targetModules() == null ? "the query and value projections" : String.join(", ",
                                rec.targetModules()), rec.layers() == null ? "all" : String.valueOf(rec.layers()),
                        rec.steps(), rec.batchSize(),
                        rec.corpus() != null ? "the " + rec.corpus() + " corpus" : recorded.apply(rec.dataset()),
                        Recovery.ADAPTER_DIR, null));
            }
            b.add(new Plan.Write(recipe.output().dir().toString(), recipe.output().dtype().name().toLowerCase(Locale.ROOT),
                    recipe.output().maxShardSize() != null ? "shards of at most " + recipe.output().maxShardSize()
                            : input.shardFiles().size() > 1 ? input.shardFiles().size() + " shards, as the input"
                            : "one file, as the input"));
            if (recipe.eval() != null) {
                int evalCases = 0;
                for (Task t : recipe.eval().suite().tasks()) {
                    evalCases += t.limit() != null ? t.limit() : EvalCaseFile.read(t.dataset()).size();
                }
                runsModel = true;
                passes += 2 * recipe.eval().suite().tasks().size();
                b.add(new Plan.Evaluate(recipe.eval().suite().name(), recipe.eval().suite().tasks().size(), evalCases,
                        recipe.eval().gates().size(), rec != null && !recipe.edit().isEmpty(), null));
            }
            b.add(new Plan.Card(ModelCard.FILE));
            if (recipe.output().archive() != null) {
                b.add(new Plan.Archive(recipe.output().archivePath().toString(), recipe.eval() != null));
            }
            if (runsModel) {
                Residency r = Residency.of(input, budget);
                shareMemory(b, budget.available(), r);
                Plan.RoutedExperts experts = routedExperts(c, params, bytes);
                residency = r.streaming()
                        ? new Plan.Residency(true, budget.origin(), 0, r.layerBytes(), r.unembedKept(), passes, bytes,
                        experts)
                        : new Plan.Residency(false, budget.origin(), r.bytes(), r.layerBytes(), true, 0, bytes, experts);
            }
            return new Plan(b, residency, cost(recipe, c, params, bytes, residency));
        }
    }

    /**
     * Gives each stage that runs a model its share of the {@code left} bytes the budget has:
     * an analysis works beside the input model's weights ({@code input}, loaded by the first
     * analysis and kept by the ones after it), so in what they leave; a second model it opens
     * (CNA against another checkpoint or an adapter, a lora-scan's best LoRA) reserves its
     * weights from that share. The recovery and the evaluation run after the input model is
     * released and open their own models: theirs is all of it.
     */
    private static void shareMemory(List<Plan.Stage> stages, long left, Residency input) {
        stages.replaceAll(s -> Plan.withMemory(s, s instanceof Plan.Analyse ? Math.max(0, left - input.bytes()) : left));
    }

    /**
     * A mixture of experts' routing as the plan states it (null for a dense model): one expert's
     * gate, up and down projections at the checkpoint's mean bytes per parameter.
     */
    private static Plan.RoutedExperts routedExperts(ModelConfig c, long params, long bytes) {
        org.neurotome.arch.Experts e = c.features().experts();
        if (e.count() == 0) {
            return null;
        }
        int sparse = 0;
        for (int l = 0; l < c.numLayers(); l++) {
            sparse += c.sparseLayer(l) ? 1 : 0;
        }
        long expertBytes = Math.round(3.0 * c.hiddenSize() * e.width() * bytes / params);
        return new Plan.RoutedExperts(e.topK(), e.count(), sparse, expertBytes);
    }

    /** Each stage's cost by {@link CostModel}: the one place the planner hands its stages over to be costed. */
    private static Estimate cost(Recipe recipe, ModelConfig c, long params, long bytes, Plan.Residency residency) {
        CostModel cost = new CostModel(c, params, bytes, residency);
        cost.model();
        for (Locate step : recipe.locate()) {
            if (step instanceof Locate.Analysis a) {
                cost.analyse(a, cases(a), tokens(a), recipe.select().stream()
                        .anyMatch(s -> s.from().equals(a.id()) && s.perCase()));
            }
        }
        if (recipe.recover() != null) {
            cost.recover(recipe.recover());
        }
        cost.write(recipe.recover() != null && !recipe.edit().isEmpty());
        if (recipe.eval() != null) {
            cost.evaluate(recipe.eval().suite().tasks(), recipe.recover() != null && !recipe.edit().isEmpty());
        }
        if (recipe.output().archive() != null) {
            cost.archive();
        }
        return cost.estimate();
    }

    /** The mean tokens of an analysis's cases (prompt and target), as {@link CostModel#tokens} counts them. */
    private static double tokens(Locate.Analysis a) {
        return switch (a.input()) {
            case AnalysisInput.Prompts p -> p.prompts().stream().mapToDouble(CostModel::tokens).average().orElse(1)
                    + a.target().size();
            case AnalysisInput.TokenIds t -> t.sequences().stream().mapToInt(List::size).average().orElse(1);
            case AnalysisInput.DatasetCases d -> d.cases().stream().mapToDouble(e -> CostModel.tokens(e.text()))
                    .average().orElse(1);
        };
    }

    /** Where an analysis takes its cases from, as the recipe gives it. */
    private static String input(Locate.Analysis a, Function<Path, String> recorded) {
        return switch (a.input()) {
            case AnalysisInput.Prompts p -> "prompts " + p.prompts();
            case AnalysisInput.TokenIds t -> "token ids " + t.sequences();
            case AnalysisInput.DatasetCases d -> "dataset " + recorded.apply(d.dataset()) + " where " + d.where().labels()
                    + (d.limit() == null ? "" : " limit " + d.limit());
        };
    }

    /**
     * With edits chosen at run time, a compact can still be judged on the kinds no run-time edit
     * touches: a listed zero-heads splitting a key/value group fails now as it would in the run.
     * A listed prune-experts is judged too: different counts per layer, or fewer
     * experts left than top-k, fail now.
     */
    private static void compactCheck(Checkpoint input, List<Edit> edits) {
        boolean runTimeHeads = edits.stream().anyMatch(e -> references(e)
                && (e instanceof Edit.ZeroHeads || e instanceof Edit.KeepHeads));
        boolean runTimeNeurons = edits.stream().anyMatch(e -> references(e) && !(e instanceof Edit.ZeroHeads
                || e instanceof Edit.KeepHeads));
        List<org.neurotome.surgery.Edit> known = new ArrayList<>();
        for (Edit e : edits) {
            if (e instanceof Edit.Compact c) {
                boolean neurons = c.remove().contains(ComponentKind.NEURONS) && !runTimeNeurons;
                boolean heads = c.remove().contains(ComponentKind.HEADS) && !runTimeHeads;
                if (neurons || heads) {
                    known.add(new org.neurotome.surgery.Compact(neurons, heads, c.pad()));
                }
            } else if (!references(e)) {
                known.add(EditBuilder.build(e, Map.of()));
            }
        }
        if (known.stream().anyMatch(e -> e instanceof org.neurotome.surgery.Compact
                || e instanceof org.neurotome.surgery.PruneExperts)) {
            Surgeon.lower(input, known);
        }
    }

    /** The cases (prompt × target pairs, sequences, or dataset cases) an analysis runs on. */
    static int cases(Locate.Analysis a) {
        return switch (a.input()) {
            case AnalysisInput.Prompts p -> p.prompts().size() * Math.max(1, a.target().size());
            case AnalysisInput.TokenIds t -> t.sequences().size();
            case AnalysisInput.DatasetCases d -> d.cases().size();
        };
    }

    /** The layers a lora-scan tries on a model of shape {@code c}. */
    private static int layers(LayerRange scan, ModelConfig c) {
        LayerRange r = scan == null ? LayerRange.all(c) : scan.check(c);
        return r.last() - r.first() + 1;
    }

    private static int scoreCases(Locate.ScoreSet s) {
        return new AnalysisInput.DatasetCases(s.dataset(), s.where(), s.limit()).cases().size();
    }

    private static boolean references(Edit e) {
        return e.components() instanceof Reference;
    }

    private static String referenced(Edit e) {
        return String.valueOf(e.components()); // a reference reads ${id}
    }

    private static String touched(Edit e) {
        return switch (e) {
            case Edit.ZeroHeads z -> "output-projection inputs and query rows (key/value rows where a whole group goes)";
            case Edit.KeepHeads k -> "complement in layers " + (k.layers() == null ? "all" : k.layers())
                    + ": output-projection inputs and query rows";
            case Edit.ZeroNeurons z -> "down-projection columns and up/gate rows";
            case Edit.ScaleNeurons s -> "down-projection columns, scaled by " + s.factor();
            case Edit.KeepNeurons k -> "complement in layers " + (k.layers() == null ? "all" : k.layers())
                    + ": down-projection columns and up/gate rows";
            case Edit.ZeroExperts z -> "each expert's gate/up rows and down columns (router kept)";
            case Edit.PruneExperts p -> "router rows and expert tensors removed, kept experts renumbered, expert count in config.json";
            case Edit.Compact c -> "zeroed slices, removed";
            case Edit.MergeLora m -> "adapted projections: W + " + m.scale() + "·scale·B·A";
        };
    }
}
