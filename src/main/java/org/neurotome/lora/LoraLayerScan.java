package org.neurotome.lora;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.eval.CaseScore;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.ModelCaseScorer;
import org.neurotome.eval.ScoreTotals;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Transformer;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * P1 §5's scan: one LoRA per layer (each trained alone, on that layer only, from the same data
 * and seed), and the accuracy each reaches on a set of cases against the model's own — every
 * target token the top-1 prediction, teacher-forced (docs/method.md A6) — with the token accuracy
 * beside it. The layer whose LoRA gains most (case accuracy, then token accuracy, then the
 * lower layer) is the best; its adapter is kept for the comparison that follows (CNA between
 * the model and the model with that LoRA). The layers are independent, so the scan may run in
 * shards of consecutive layers ({@link #runShard}) that {@link #merge} joins into this result.
 */
public final class LoraLayerScan {

    /** One layer's LoRA: its accuracy and token accuracy on the scored cases, their gains, and its training loss. */
    public record LayerGain(int layer, double accuracy, double tokenAccuracy, double gain, double tokenGain,
                            double firstLoss, double finalLoss) {
    }

    /** The scan: the model's own accuracy, each layer's, the best layer and its trained adapter. */
    public record Result(double baseAccuracy, double baseTokenAccuracy, List<LayerGain> layers, int best,
                         LoraTrainer.Result bestAdapter) {
        /** As findings record it. */
        public ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("base_accuracy", baseAccuracy).put("base_token_accuracy", baseTokenAccuracy).put("best_layer", best);
            ArrayNode a = o.putArray("layers");
            for (LayerGain g : layers) {
                a.addObject().put("layer", g.layer()).put("accuracy", g.accuracy()).put("gain", g.gain())
                        .put("token_accuracy", g.tokenAccuracy()).put("token_gain", g.tokenGain())
                        .put("first_loss", g.firstLoss()).put("final_loss", g.finalLoss());
            }
            return o;
        }
    }

    private LoraLayerScan() {
    }

    /**
     * Trains a LoRA on each of {@code layers} of {@code base} ({@code settings} gives the
     * settings for a layer) on {@code data}, scores each on {@code cases}; one line per layer
     * goes to {@code log}.
     */
    public static Result run(LanguageModel base, TrainingData data, List<Integer> layers,
                             IntFunction<LoraTrainer.Settings> settings, List<EvalCase> cases, Consumer<String> log) {
        LoraScanShard all = scan(base, data, layers, settings, cases, 0, 1, log);
        return new Result(all.baseAccuracy(), all.baseTokenAccuracy(), all.layers(), all.bestLayer(), all.best());
    }

    /**
     * Shard {@code shard} (0-based) of {@code shards} of the scan {@link #run} runs: the layers
     * from index {@code shard·n/shards} of {@code layers} up to the next shard's first, n being
     * their number, each trained and scored as {@link #run} does. {@link #merge} of the shards is
     * the unsharded scan bit for bit: each layer's LoRA is trained alone from the same data and
     * seed, and the best is the same whichever shard holds it.
     */
    public static LoraScanShard runShard(LanguageModel base, TrainingData data, List<Integer> layers,
                                         IntFunction<LoraTrainer.Settings> settings, List<EvalCase> cases, int shard,
                                         int shards, Consumer<String> log) {
        int n = layers.size();
        if (shards < 1 || shards > n || shard < 0 || shard >= shards) {
            throw NeurotomeException.badInput("lora-scan shard " + shard + " of " + shards + " of " + n
                    + " layers: want 0 <= shard < shards <= layers");
        }
        return scan(base, data, layers.subList(shard * n / shards, (shard + 1) * n / shards), settings, cases, shard,
                shards, log);
    }

    /**
     * The scan of {@code layers} from its shards 0 … N−1, in order: their layers, and the best
     * layer chosen among the shards' best as {@link #run} chooses it among all layers (case gain,
     * then token gain, then the lower layer). Shards that are not those of this scan are refused
     * as bad input.
     */
    public static Result merge(List<Integer> layers, List<LoraScanShard> shards) {
        List<LayerGain> gains = new ArrayList<>();
        LoraScanShard bestShard = null;
        LayerGain bestGain = null;
        for (int i = 0; i < shards.size(); i++) {
            LoraScanShard s = shards.get(i);
            LoraScanShard first = shards.getFirst();
            if (s.shard() != i || s.shards() != shards.size()) {
                throw NeurotomeException.badInput("lora-scan shard " + s.shard() + " of " + s.shards() + " given as "
                        + i + " of " + shards.size() + ": merge wants shards 0 to " + (shards.size() - 1) + " in order");
            }
            if (s.baseAccuracy() != first.baseAccuracy() || s.baseTokenAccuracy() != first.baseTokenAccuracy()) {
                throw NeurotomeException.badInput("lora-scan shard " + i + " of " + shards.size()
                        + " scored the model otherwise than shard 0 (other cases or another model)");
            }
            gains.addAll(s.layers());
            LayerGain g = s.layers().stream().filter(x -> x.layer() == s.bestLayer()).findFirst().orElseThrow();
            if (better(g, bestGain)) {
                bestShard = s;
                bestGain = g;
            }
        }
        if (bestShard == null || !gains.stream().map(LayerGain::layer).toList().equals(layers)) {
            throw NeurotomeException.badInput("lora-scan shards scan layers " + gains.stream().map(LayerGain::layer)
                    .toList() + ", not the scan's " + layers);
        }
        return new Result(bestShard.baseAccuracy(), bestShard.baseTokenAccuracy(), gains, bestGain.layer(),
                bestShard.best());
    }

    /** The LoRAs of {@code layers}, trained and scored, as shard {@code shard} of {@code shards}. */
    private static LoraScanShard scan(LanguageModel base, TrainingData data, List<Integer> layers,
                                      IntFunction<LoraTrainer.Settings> settings, List<EvalCase> cases, int shard,
                                      int shards, Consumer<String> log) {
        double[] own = accuracy(new ModelCaseScorer(base).score(cases));
        log.accept(String.format(Locale.ROOT, "lora-scan: the model's own accuracy %.1f %% (tokens %.1f %%) on %d cases",
                100 * own[0], 100 * own[1], cases.size()));
        List<LayerGain> gains = new ArrayList<>();
        LoraTrainer.Result best = null;
        LayerGain bestGain = null;
        for (int layer : layers) {
            LoraTrainer.Result r = LoraTrainer.train(base, null, data, settings.apply(layer),
                    new PrintWriter(java.io.Writer.nullWriter()));
            double[] acc;
            try (LoraParameters p = new LoraParameters(base.weights(), r.modules()); Transformer t = p.transformer()) {
                acc = accuracy(new ModelCaseScorer(t, base::encode).score(cases));
            }
            LayerGain g = new LayerGain(layer, acc[0], acc[1], acc[0] - own[0], acc[1] - own[1], r.firstLoss(),
                    r.finalLoss());
            gains.add(g);
            log.accept(String.format(Locale.ROOT, "lora-scan: layer %d: accuracy %.1f %% (%+.1f), tokens %.1f %% (%+.1f), "
                    + "loss %.4f -> %.4f", layer, 100 * g.accuracy(), 100 * g.gain(), 100 * g.tokenAccuracy(),
                    100 * g.tokenGain(), g.firstLoss(), g.finalLoss()));
            if (better(g, bestGain)) {
                best = r;
                bestGain = g;
            }
        }
        return new LoraScanShard(shard, shards, own[0], own[1], gains, bestGain.layer(), best);
    }

    /** Whether {@code g} gains more than {@code than} (none yet: null): case gain, then token gain; on a tie, the earlier. */
    private static boolean better(LayerGain g, LayerGain than) {
        return than == null || g.gain() > than.gain() || g.gain() == than.gain() && g.tokenGain() > than.tokenGain();
    }

    /** Whole-case and per-token accuracy of scored cases. */
    private static double[] accuracy(List<CaseScore> scored) {
        ScoreTotals t = ScoreTotals.of(scored);
        return new double[] {t.accuracy(), t.tokenAccuracy()};
    }
}
