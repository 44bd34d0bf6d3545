package org.neurotome.recipe;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.arch.LayerRange;
import org.neurotome.arch.ModelConfig;
import org.neurotome.eval.LabelFilter;
import org.neurotome.training.TrainingSchedule;
import org.neurotome.lora.LoraTrainer;
import org.neurotome.lora.TrainingData;
import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * How a recipe trains a LoRA (the {@code recover} stage, a {@code lora-scan}'s {@code train}):
 * the data — {@code corpus} ({@code standard} or {@code arithmetic}, loss on every token) or a
 * {@code dataset} of eval cases (with {@code where} and {@code limit}; loss on the target
 * tokens) — the adapter ({@code target_modules}, {@code layers}, {@code rank}, {@code alpha},
 * {@code rslora}) and the optimisation ({@code steps}, {@code batch_size}, {@code lr},
 * {@code warmup}, {@code weight_decay}, {@code seed}); defaults as {@code neurotome train-lora}'s.
 *
 * @param targetModules PEFT target_modules names; null for the family's query and value projections
 * @param layers        the layers adapted, or {@code ${id}} of a lora-scan (its best layer); null for all
 */
public record LoraTraining(String corpus, Path dataset, LabelFilter where, Integer limit, List<String> targetModules,
                           LayerSource layers, Integer rank, Double alpha, Boolean rslora, Integer steps,
                           Integer batchSize, Double lr, Integer warmup, Double weightDecay, Long seed) {
    public LoraTraining {
        if ((corpus == null) == (dataset == null)) {
            throw (corpus == null ? SchemaViolation.of("missing training data: one of 'corpus' (standard, arithmetic) "
                    + "or 'dataset' (a JSONL file of cases)").aboutMapping()
                    : SchemaViolation.of("conflicting training data").at("dataset").gotText("corpus and dataset")
                    .allowed("one of corpus, dataset"));
        }
        if (corpus != null && !TrainingData.CORPORA.contains(corpus)) {
            throw SchemaViolation.of("unknown corpus").at("corpus").got(corpus).allowedWords(corpus, TrainingData.CORPORA);
        }
        if (dataset == null && (where != null || limit != null)) {
            throw SchemaViolation.of("'where' and 'limit' select cases of a dataset").at(where != null ? "where" : "limit")
                    .allowed("where and limit together with dataset");
        }
        if (limit != null && limit < 1) {
            throw SchemaViolation.of("invalid value").at("limit").got(limit).allowed("a whole number >= 1");
        }
        if (targetModules != null) {
            if (targetModules.isEmpty() || targetModules.stream().anyMatch(t -> t == null || t.isBlank())) {
                throw SchemaViolation.of("invalid value").at("target_modules").gotText(String.valueOf(targetModules))
                        .allowed("a list of projection names such as q_proj, c_attn, or [all-linear]");
            }
            targetModules = List.copyOf(targetModules);
        }
        rank = positive(rank, 8, "rank");
        alpha = alpha == null ? 16.0 : alpha;
        if (!Double.isFinite(alpha) || alpha < 0) {
            throw SchemaViolation.of("invalid value").at("alpha").got(alpha).allowed("a finite number >= 0");
        }
        rslora = rslora != null && rslora;
        steps = positive(steps, 200, "steps");
        batchSize = positive(batchSize, 32, "batch_size");
        lr = lr == null ? 1e-3 : lr;
        if (!Double.isFinite(lr) || lr <= 0) {
            throw SchemaViolation.of("invalid value").at("lr").got(lr).allowed("a positive number");
        }
        warmup = warmup == null ? steps / 10 : warmup;
        if (warmup < 0 || warmup > steps) {
            throw SchemaViolation.of("invalid value").at("warmup").got(warmup).allowed("0 to steps (" + steps + ")");
        }
        weightDecay = weightDecay == null ? 0.0 : weightDecay;
        if (!Double.isFinite(weightDecay) || weightDecay < 0) {
            throw SchemaViolation.of("invalid value").at("weight_decay").got(weightDecay).allowed("a finite number >= 0");
        }
        seed = seed == null ? 0L : seed;
    }

    private static int positive(Integer v, int fallback, String key) {
        if (v == null) {
            return fallback;
        }
        if (v < 1) {
            throw SchemaViolation.of("invalid value").at(key).got(v).allowed("a whole number >= 1");
        }
        return v;
    }

    /** What the LoRA trains on. */
    public TrainingData data() {
        return dataset != null ? new TrainingData.Cases(dataset, where, limit) : new TrainingData.Corpus(corpus);
    }

    /**
     * The trainer's settings for a model of shape {@code c}, the layers being {@code layers}
     * as resolved ({@code ${id}} replaced by the scan's best layer; null for all).
     */
    public LoraTrainer.Settings settings(ModelConfig c, LayerRange resolved) {
        List<Integer> list = null;
        if (resolved != null) {
            LayerRange r = resolved.check(c);
            list = new ArrayList<>();
            for (int l = r.first(); l <= r.last(); l++) {
                list.add(l);
            }
        }
        return new LoraTrainer.Settings(targetModules, list, rank, alpha, rslora,
                new TrainingSchedule(steps, batchSize, lr, 0.1, warmup, weightDecay, 0.9, 0.999, 1e-8, 1.0, steps), seed);
    }

    /** This training with its layers set to {@code layer} (a lora-scan's one-layer LoRAs). */
    LoraTraining atLayer(int layer) {
        return new LoraTraining(corpus, dataset, where, limit, targetModules,
                new LayerSource.Range(new LayerRange(layer, layer)), rank, alpha, rslora, steps, batchSize, lr, warmup,
                weightDecay, seed);
    }

    /** The settings as the manifest and findings record them, paths written by {@code recorded}. */
    ObjectNode describe(Function<Path, String> recorded) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.set("data", data().describe(recorded));
        if (targetModules != null) {
            targetModules.forEach(o.putArray("target_modules")::add);
        }
        o.put("layers", layers == null ? "all" : layers.toString());
        o.put("rank", rank).put("alpha", alpha).put("rslora", rslora).put("steps", steps).put("batch_size", batchSize)
                .put("lr", lr).put("warmup", warmup).put("weight_decay", weightDecay).put("seed", seed);
        return o;
    }
}
