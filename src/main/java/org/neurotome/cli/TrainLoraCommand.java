package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.eval.LabelFilter;
import org.neurotome.training.TrainingSchedule;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.lora.LoraModule;
import org.neurotome.lora.LoraTrainer;
import org.neurotome.lora.TrainingData;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.TorchThreads;
import org.neurotome.release.BaseModel;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * {@code neurotome train-lora MODEL}: trains a LoRA adapter on a frozen checkpoint
 * ({@link LoraTrainer}) on eval cases (loss on the target tokens) or the fixture corpus, and
 * writes it as a PEFT adapter directory — {@code adapter_config.json},
 * {@code adapter_model.safetensors}, {@code training-log.jsonl} and {@code manifest.json} —
 * that {@code --adapter}, {@code merge-lora} and PEFT's {@code PeftModel.from_pretrained} load.
 */
@Command(name = "train-lora", mixinStandardHelpOptions = true,
        description = "Train a LoRA adapter on a frozen model (AdamW, warm-up then cosine schedule, masked loss) "
                + "and write it as a PEFT adapter directory.")
public final class TrainLoraCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Checkpoint directory (with tokenizer.json).")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Data data;

    static final class Data {
        @Option(names = "--dataset", paramLabel = "FILE", required = true,
                description = "JSONL cases {\"prompt\",\"target\",\"labels\"}; the loss is on the target tokens.")
        Path dataset;

        @Option(names = "--corpus", paramLabel = "MIX", required = true,
                description = "The fixture corpus: standard (every kind of sentence, the loss on every token) or "
                        + "arithmetic (its arithmetic problems, the loss on the answer's tokens).")
        String corpus;
    }

    @Option(names = "--where", paramLabel = "KEY=VALUE",
            description = "With --dataset: keep the cases whose label KEY is VALUE (repeatable; all must hold).")
    Map<String, String> where = new LinkedHashMap<>();

    @Option(names = "--limit", paramLabel = "N", description = "With --dataset: only the first N cases (after --where).")
    Integer limit;

    @Option(names = "--target-modules", paramLabel = "NAMES", split = ",",
            description = "PEFT target_modules: projection names such as q_proj,v_proj or c_attn, or all-linear. "
                    + "Default: the family's query and value projections (PEFT's default).")
    List<String> targetModules;

    @Option(names = "--layers", paramLabel = "LAYERS",
            description = "The layers adapted, e.g. 9, 2-5, 17- or 1,3 (layers_to_transform). Default: all.")
    String layers;

    @Option(names = "--rank", paramLabel = "R", defaultValue = "8", description = "LoRA rank r. Default: ${DEFAULT-VALUE}.")
    int rank;

    @Option(names = "--alpha", paramLabel = "A", defaultValue = "16", description = "lora_alpha. Default: ${DEFAULT-VALUE}.")
    double alpha;

    @Option(names = "--rslora", description = "Scale by alpha/sqrt(r) (rsLoRA) rather than alpha/r.")
    boolean rslora;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "200", description = "Optimiser steps. Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "32", description = "Rows per step. Default: ${DEFAULT-VALUE}.")
    int batchSize;

    @Option(names = "--lr", paramLabel = "RATE", defaultValue = "1e-3",
            description = "Peak learning rate (linear warm-up, then a half cosine to a tenth of it). Default: ${DEFAULT-VALUE}.")
    double lr;

    @Option(names = "--warmup", paramLabel = "N", description = "Warm-up steps. Default: a tenth of --steps.")
    Integer warmup;

    @Option(names = "--weight-decay", paramLabel = "W", defaultValue = "0",
            description = "AdamW's decoupled weight decay on A and B. Default: ${DEFAULT-VALUE}.")
    double weightDecay;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seed of A's initialisation and the data order. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "The adapter directory to write.")
    Path out;

    @Option(names = "--force", description = "Replace an existing output directory.")
    boolean force;

    @Option(names = "--base-model", paramLabel = "NAME",
            description = "What adapter_config.json's base_model_name_or_path names (a hub id or a path). Default: the "
                    + "model's hub id (a hub cache snapshot's, or config.json's _name_or_path when it is one), else its "
                    + "path relative to the working directory when it lies inside it, else its folder name; never an "
                    + "absolute path.")
    String baseModel;

    @Mixin
    DeviceOption device;

    @Mixin
    ResourceOptions resources;

    @Override
    public Integer call() {
        if (data.dataset == null && (limit != null || !where.isEmpty())) {
            throw NeurotomeException.badInput("--where and --limit select cases of a --dataset");
        }
        if (limit != null && limit < 1) {
            throw NeurotomeException.badInput("--limit must be at least 1, got " + limit);
        }
        TrainingData training = data.dataset != null
                ? new TrainingData.Cases(data.dataset, filter(where), limit) : new TrainingData.Corpus(data.corpus);
        TrainingSchedule schedule = schedule(steps, batchSize, lr, warmup, weightDecay);
        PrintWriter err = spec.commandLine().getErr();
        Map<String, Path> inputs = new LinkedHashMap<>();
        inputs.put("the model", model);
        inputs.put("the data set", data.dataset);
        OutputGuard guard = OutputGuard.protecting(inputs);
        guard.checkpointDirectory(out, force);
        try (TorchThreads threads = resources.threads();
             LanguageModel lm = LanguageModel.open(model, device.resolve(), resources.budget())) {
            LoraTrainer.Settings settings = new LoraTrainer.Settings(targetModules,
                    layers == null ? null : layerList(layers, lm.config().numLayers()), rank, alpha, rslora, schedule, seed);
            String baseName = baseModel != null ? baseModel : baseModelName(model, lm.dir());
            LoraTrainer.Result r = LoraTrainer.train(lm, baseName, training, settings, err);
            write(out, guard, lm, baseName, r, training, settings, force);
            PrintWriter stdout = spec.commandLine().getOut();
            stdout.printf(Locale.ROOT, "wrote %s: %s; %,d parameters; loss %.4f -> %.4f over %d steps%n", out,
                    LoraAdapter.summary(r.config(), r.modules()), r.modules().stream().mapToLong(LoraModule::parameters).sum(),
                    r.firstLoss(), r.finalLoss(), schedule.steps());
            stdout.flush();
        }
        return ExitCode.OK.code();
    }

    /** The schedule of a LoRA run: AdamW β = (0.9, 0.999), ε = 1e-8, gradients clipped at norm 1. */
    static TrainingSchedule schedule(int steps, int batchSize, double lr, Integer warmup, double weightDecay) {
        int w = warmup == null ? steps / 10 : warmup;
        if (w < 0 || w > steps) {
            throw NeurotomeException.badInput("--warmup must be within 0.." + steps + " steps, got " + w);
        }
        return new TrainingSchedule(steps, batchSize, lr, 0.1, w, weightDecay, 0.9, 0.999, 1e-8, 1.0, steps);
    }

    /**
     * How an adapter names the model it was trained on when the user does not say: its hub id,
     * else its path relative to the working directory when it lies inside it, else its folder
     * (or archive) name. An absolute path would leak the user's directories into a published
     * adapter and mean nothing on another machine.
     *
     * @param model the model as given on the command line
     * @param files the folder its files are read from
     */
    static String baseModelName(Path model, Path files) {
        String hub = BaseModel.hubId(model, files);
        if (hub != null) {
            return hub;
        }
        Path abs = model.toAbsolutePath().normalize();
        Path cwd = Path.of("").toAbsolutePath().normalize();
        return abs.startsWith(cwd) && !abs.equals(cwd) ? cwd.relativize(abs).toString().replace(java.io.File.separatorChar, '/')
                : BaseModel.of(model, files, null).name();
    }

    /** Writes the adapter with its training log and a manifest recording the base model, the data and the settings. */
    static void write(Path out, OutputGuard guard, LanguageModel base, String baseName, LoraTrainer.Result r,
                      TrainingData training, LoraTrainer.Settings settings, boolean force) {
        Map<String, JsonNode> provenance = new LinkedHashMap<>();
        provenance.put("base", Json.MAPPER.createObjectNode().put("name", baseName)
                .put("fingerprint", Manifest.fingerprint(base.dir())));
        ObjectNode t = Json.MAPPER.createObjectNode();
        t.set("data", training.describe());
        t.set("schedule", Json.MAPPER.valueToTree(settings.schedule()));
        t.put("seed", settings.seed());
        t.put("first_loss", r.firstLoss());
        t.put("final_loss", r.finalLoss());
        provenance.put("training", t);
        LoraAdapter.write(out, r.config(), r.modules(), Map.of("training-log.jsonl", r.logFile()), provenance, force, guard);
    }

    /** {@code --where KEY=VALUE} as a label filter. */
    static LabelFilter filter(Map<String, String> where) {
        Map<String, List<String>> labels = new LinkedHashMap<>();
        where.forEach((k, v) -> labels.put(k, List.of(v)));
        return new LabelFilter(labels);
    }

    /** {@code 9}, {@code 2-5}, {@code 17-} or {@code 1,3} as layer indices of a model with {@code numLayers} layers. */
    static List<Integer> layerList(String written, int numLayers) {
        TreeSet<Integer> out = new TreeSet<>();
        for (String part : written.split(",")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*(\\d+)\\s*(-)?\\s*(\\d+)?\\s*").matcher(part);
            if (!m.matches() || m.group(2) == null && m.group(3) != null) {
                throw NeurotomeException.badInput("--layers '" + written + "': expected layers such as 9, 2-5, 17- or 1,3");
            }
            int first = Integer.parseInt(m.group(1));
            int last = m.group(2) == null ? first : m.group(3) == null ? numLayers - 1 : Integer.parseInt(m.group(3));
            if (first > last || last >= numLayers) {
                throw NeurotomeException.badInput("--layers '" + written + "': the model has layers 0.." + (numLayers - 1));
            }
            for (int l = first; l <= last; l++) {
                out.add(l);
            }
        }
        return new ArrayList<>(out);
    }
}
