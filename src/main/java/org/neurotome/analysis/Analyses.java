package org.neurotome.analysis;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.cna.Attribution;
import org.neurotome.NeurotomeException;
import org.neurotome.cna.AttributionResult;
import org.neurotome.cna.AttributionShard;
import org.neurotome.cna.Comparison;
import org.neurotome.cna.ExpertAttribution;
import org.neurotome.cna.ExpertAttributionResult;
import org.neurotome.cna.ExpertScan;
import org.neurotome.cna.ExpertScanResult;
import org.neurotome.cna.ExpertUsage;
import org.neurotome.cna.ExpertUsageResult;
import org.neurotome.cna.ComparisonResult;
import org.neurotome.cna.HeadScan;
import org.neurotome.cna.HeadScanResult;
import org.neurotome.cna.HeadScanShard;
import org.neurotome.cna.Progress;
import org.neurotome.cna.PromptSet;
import org.neurotome.cna.VocabularyProjection;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.lora.LoraConfig;
import org.neurotome.lora.LoraLayerScan;
import org.neurotome.lora.LoraScanShard;
import org.neurotome.lora.LoraTrainer;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The one place an {@link AnalysisSpec} becomes calls into the analyses: which engine runs,
 * which second model a comparison opens (another checkpoint, or the same one with an adapter)
 * and under which budget, and how the LoRA layer scan hands its best adapter to CNA. The
 * {@code locate} command and a recipe's analyse stage both call {@link #run}; each turns the
 * {@link Outcome} into findings and tables its own way, inside the call.
 */
public final class Analyses {

    /**
     * What an analysis runs with besides the model and prompts.
     *
     * @param device   where a second model is opened
     * @param budget   the memory a second model is opened under
     * @param progress progress of long passes
     * @param log      one line per stage of a LoRA scan
     * @param describe how a second model is recorded, given the path the spec named it by (the
     *                 checkpoint compared with; the model's own for the model with an adapter)
     * @param shards   where the shards of an analysis run in shards are computed and kept
     */
    public record Context(Device device, MemoryBudget budget, Progress progress, Consumer<String> log,
                          BiFunction<LanguageModel, Path, ObjectNode> describe, ShardStore shards) {
    }

    /** What an analysis produced. */
    public sealed interface Outcome {
    }

    public record HeadScanned(HeadScanResult result) implements Outcome {
    }

    public record Attributed(AttributionResult result) implements Outcome {
    }

    public record ExpertScanned(ExpertScanResult result) implements Outcome {
    }

    public record ExpertsAttributed(ExpertAttributionResult result) implements Outcome {
    }

    public record ExpertsUsed(ExpertUsageResult result) implements Outcome {
    }

    /**
     * A comparison: its result, side B's model as recorded (null when B is the same model), and
     * for a LoRA scan the scan itself (else null).
     */
    public record Compared(ComparisonResult result, ObjectNode modelB, LoraLayerScan.Result scan) implements Outcome {
    }

    private Analyses() {
    }

    /**
     * Runs {@code spec} on {@code model} over {@code prompts} ({@code perCase} keeps each case's
     * own scores) and hands the outcome to {@code then} while what it was computed with (the
     * vocabulary projections, side B's model) is still open: findings read the top tokens of
     * neurons' value vectors through them.
     */
    public static <T> T run(LanguageModel model, PromptSet prompts, AnalysisSpec spec, boolean perCase, Context ctx,
                            Function<Outcome, T> then) {
        return switch (spec) {
            case AnalysisSpec.HeadScan h -> then.apply(new HeadScanned(headScan(model, prompts, h, ctx)));
            case AnalysisSpec.Attribution at -> {
                try (VocabularyProjection p = projection(model)) {
                    yield then.apply(new Attributed(attribution(model, p, prompts, at, perCase, ctx)));
                }
            }
            case AnalysisSpec.Cna c -> cna(model, prompts, c, perCase, ctx, then);
            case AnalysisSpec.LoraScan ls -> loraScan(model, prompts, ls, perCase, ctx, then);
            case AnalysisSpec.ExpertScan es -> then.apply(new ExpertScanned(ExpertScan.run(model, prompts,
                    HeadScan.Options.DEFAULT_BATCH_ELEMENTS, ctx.progress())));
            case AnalysisSpec.ExpertAttribution ea -> {
                try (VocabularyProjection p = projection(model)) {
                    yield then.apply(new ExpertsAttributed(ExpertAttribution.run(model, p, prompts,
                            Attribution.Options.DEFAULT_BATCH_ELEMENTS, ctx.progress())));
                }
            }
            case AnalysisSpec.ExpertUsage eu -> then.apply(new ExpertsUsed(ExpertUsage.run(model, prompts,
                    Attribution.Options.DEFAULT_BATCH_ELEMENTS, ctx.progress())));
        };
    }

    /** The head scan, run in its shards one after the other and merged when it has several. */
    private static HeadScanResult headScan(LanguageModel model, PromptSet prompts, AnalysisSpec.HeadScan h,
                                           Context ctx) {
        HeadScan.Options options = HeadScan.Options.defaults().withGroupBy(h.groupBy()).withProgress(ctx.progress());
        if (h.shards() == 1) {
            return HeadScan.run(model, prompts, options);
        }
        checkShards(h.shards(), HeadScan.batches(model.config(), prompts, options), "batch", "batches", "head scan");
        List<HeadScanShard> shards = shards(h.shards(), ctx.shards(), new ShardStore.Codec<>(HeadScanShard::write,
                HeadScanShard::read), i -> HeadScan.runShard(model, prompts, i, h.shards(), options));
        return HeadScanResult.merge(prompts, shards, options.groupBy());
    }

    /** The attribution, run in its shards one after the other and merged when it has several. */
    private static AttributionResult attribution(LanguageModel model, VocabularyProjection p, PromptSet prompts,
                                                 AnalysisSpec.Attribution at, boolean perCase, Context ctx) {
        Attribution a = attribution(model, p, at.neuronPath(), ctx);
        if (at.shards() == 1) {
            return a.run(prompts, perCase, at.scoring());
        }
        if (perCase || !at.scoring().exhaustive()) {
            throw NeurotomeException.badInput("an attribution in shards keeps no case's own scores and scores "
                    + "every component: it takes neither per_case nor a bounded top");
        }
        checkShards(at.shards(), a.passes(prompts), "pass", "passes", "attribution");
        List<AttributionShard> shards = shards(at.shards(), ctx.shards(), new ShardStore.Codec<>(
                AttributionShard::write, AttributionShard::read), i -> a.runShard(prompts, i, at.shards()));
        return AttributionResult.merge(prompts, shards);
    }

    /** Shards 0 … n−1 from {@code store}: each offered for computing first, then each read or computed, in order. */
    private static <S> List<S> shards(int n, ShardStore store, ShardStore.Codec<S> codec, IntFunction<S> compute) {
        for (int i = 0; i < n; i++) {
            int shard = i;
            store.offer(i, n, codec, () -> compute.apply(shard));
        }
        List<S> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int shard = i;
            out.add(store.shard(i, n, codec, () -> compute.apply(shard)));
        }
        return out;
    }

    /** Refuses more shards than the analysis has units of work ({@code units} batches or passes) to split. */
    private static void checkShards(int shards, int units, String one, String many, String analysis) {
        if (shards > units) {
            throw NeurotomeException.badInput("shards: " + shards + ", but this " + analysis + " runs in " + units
                    + " " + (units == 1 ? one : many) + " and a shard takes whole " + many + "; give shards: " + units
                    + " or fewer");
        }
    }

    private static <T> T cna(LanguageModel model, PromptSet prompts, AnalysisSpec.Cna c, boolean perCase,
                             Context ctx, Function<Outcome, T> then) {
        try (VocabularyProjection p = projection(model)) {
            Attribution a = attribution(model, p, c.neuronPath(), ctx);
            return switch (c.against()) {
                case AnalysisSpec.AblatedHeads ab ->
                        then.apply(new Compared(Comparison.headsAblated(a, prompts, ab.heads(), perCase,
                                c.scoring()), null, null));
                case AnalysisSpec.ContrastPrompts cp ->
                        then.apply(new Compared(Comparison.contrast(a, prompts, cp.prompts(), perCase,
                                c.scoring()), null, null));
                case AnalysisSpec.OtherCheckpoint oc -> {
                    try (LanguageModel other = opened(LanguageModel.open(oc.checkpoint(), ctx.device(), ctx.budget()), ctx);
                         VocabularyProjection q = projection(other)) {
                        Attribution b = attribution(other, q, c.neuronPath(), ctx);
                        yield then.apply(new Compared(Comparison.checkpoints(a, b, prompts, perCase, c.scoring()),
                                ctx.describe().apply(other, oc.checkpoint()), null));
                    }
                }
                case AnalysisSpec.WithAdapter wa -> {
                    try (LanguageModel other = opened(LanguageModel.open(model.dir(), ctx.device(), ctx.budget(),
                            LoraAdapter.read(wa.adapter())), ctx);
                         VocabularyProjection q = projection(other)) {
                        Attribution b = attribution(other, q, c.neuronPath(), ctx);
                        yield then.apply(new Compared(Comparison.adapter(a, b, prompts, perCase, c.scoring()),
                                ctx.describe().apply(other, model.dir()), null));
                    }
                }
            };
        }
    }

    /** P1 §5: a LoRA per layer, each scored, then CNA between the model (A) and the model with the best one (B). */
    private static <T> T loraScan(LanguageModel model, PromptSet prompts, AnalysisSpec.LoraScan ls,
                                  boolean perCase, Context ctx, Function<Outcome, T> then) {
        LoraLayerScan.Result scan = loraLayerScan(model, ls, ctx);
        try (VocabularyProjection p = projection(model);
             LanguageModel tuned = opened(LanguageModel.open(model.dir(), ctx.device(), ctx.budget(),
                     scan.bestAdapter().adapter()), ctx);
             VocabularyProjection q = projection(tuned)) {
            Attribution.NeuronPath path = Attribution.NeuronPath.VALUE_PROJECTIONS;
            ComparisonResult r = Comparison.adapter(attribution(model, p, path, ctx), attribution(tuned, q, path, ctx),
                    prompts, perCase, ls.scoring());
            return then.apply(new Compared(r, ctx.describe().apply(tuned, model.dir()), scan));
        }
    }

    /** The LoRA layer scan, run in its shards one after the other and merged when it has several. */
    private static LoraLayerScan.Result loraLayerScan(LanguageModel model, AnalysisSpec.LoraScan ls, Context ctx) {
        if (ls.shards() == 1) {
            return LoraLayerScan.run(model, ls.data(), ls.layers(), ls.settings(), ls.scoreCases(), ctx.log());
        }
        IntFunction<LoraConfig> config = l -> LoraTrainer.config(model, null, ls.settings().apply(l));
        List<LoraScanShard> shards = shards(ls.shards(), ctx.shards(), new ShardStore.Codec<>(LoraScanShard::write,
                file -> LoraScanShard.read(file, config)), i -> LoraLayerScan.runShard(model, ls.data(), ls.layers(),
                ls.settings(), ls.scoreCases(), i, ls.shards(), ctx.log()));
        return LoraLayerScan.merge(ls.layers(), shards);
    }

    /** A second model, opened for side B, reporting its passes as the first one does. */
    private static LanguageModel opened(LanguageModel m, Context ctx) {
        m.transformer().setProgress((done, total) -> ctx.progress().update("layers", done, total));
        return m;
    }

    private static VocabularyProjection projection(LanguageModel m) {
        return new VocabularyProjection(m.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES);
    }

    private static Attribution attribution(LanguageModel m, VocabularyProjection p, Attribution.NeuronPath path,
                                           Context ctx) {
        return new Attribution(m, p, Attribution.Options.defaults().withNeuronPath(path).withProgress(ctx.progress()));
    }
}
