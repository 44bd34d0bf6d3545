package org.neurotome.lora;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
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
 * the model and the model with that LoRA).
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
            if (bestGain == null || g.gain() > bestGain.gain()
                    || g.gain() == bestGain.gain() && g.tokenGain() > bestGain.tokenGain()) {
                best = r;
                bestGain = g;
            }
        }
        int bestLayer = bestGain.layer();
        return new Result(own[0], own[1], gains, bestLayer, best);
    }

    /** Whole-case and per-token accuracy of scored cases. */
    private static double[] accuracy(List<CaseScore> scored) {
        ScoreTotals t = ScoreTotals.of(scored);
        return new double[] {t.accuracy(), t.tokenAccuracy()};
    }
}
