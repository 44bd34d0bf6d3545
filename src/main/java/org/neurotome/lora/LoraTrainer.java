package org.neurotome.lora;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.arch.WeightLayout;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.training.AdamW;
import org.neurotome.training.GradientClipping;
import org.neurotome.training.NextTokenLoss;
import org.neurotome.training.TrainingSchedule;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Transformer;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Trains a LoRA adapter on a frozen model (Hu et al., "LoRA: Low-Rank Adaptation of Large
 * Language Models", ICLR 2022; rsLoRA: Kalajdzievski, 2023) with the runtime's own forward under
 * DJL autograd, as the fixture trainer trains whole models: each step draws a batch of
 * {@link TrainingData}, takes the next-token loss (on the target tokens of prompt + target
 * cases, on every token of corpus sentences), clips the global gradient norm and applies AdamW
 * at the rate of the {@link TrainingSchedule}; every step runs in its own {@link NDScope}. Only
 * A and B ({@link LoraParameters}) receive gradients. Modules start as PEFT starts them (A
 * random, B zero), so step 0 is the base model.
 */
public final class LoraTrainer {
    /** Steps averaged into one {@code step} log line. */
    static final int LOG_EVERY = 10;

    /**
     * Held while a LoRA trains: DJL's gradient collector is one per process (a second one
     * collecting at once is refused), so the trainings of a sweep's units that run in one process
     * at once take turns.
     */
    private static final ReentrantLock TURN = new ReentrantLock();

    /**
     * What to train.
     *
     * @param targetModules PEFT target_modules names ({@code q_proj}, {@code c_attn}, …, or
     *                      {@code all-linear}); null for the family's query and value projections,
     *                      PEFT's default
     * @param layers        the layers adapted (layers_to_transform); null for all
     * @param rank          r
     * @param alpha         lora_alpha
     * @param rslora        scale by α/√r rather than α/r
     * @param schedule      steps, batch size, learning rate and its schedule, AdamW's settings
     * @param seed          A's initialisation and the order of the data
     */
    public record Settings(List<String> targetModules, List<Integer> layers, int rank, double alpha, boolean rslora,
                           TrainingSchedule schedule, long seed) {
        public Settings {
            if (rank < 1) {
                throw NeurotomeException.badInput("LoRA rank " + rank + " must be at least 1");
            }
            if (!(alpha >= 0) || !Double.isFinite(alpha)) {
                throw NeurotomeException.badInput("LoRA alpha " + alpha + " must be a finite number >= 0");
            }
            targetModules = targetModules == null ? null : List.copyOf(targetModules);
            layers = layers == null ? null : List.copyOf(layers);
        }
    }

    /**
     * A trained adapter: its config and modules, the training log (JSON lines), and the mean
     * loss of the first and of the last logged window of steps.
     */
    public record Result(LoraConfig config, List<LoraModule> modules, List<String> log, double firstLoss,
                         double finalLoss) {
        /** The adapter, held in memory. */
        public LoraAdapter adapter() {
            return LoraAdapter.of(config, modules);
        }

        /** The training log as the text of a {@code training-log.jsonl} file. */
        public byte[] logFile() {
            return (String.join("\n", log) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    private LoraTrainer() {
    }

    /** PEFT's default targets: the attention's query and value projections (fused qkv where the family fuses them). */
    public static List<String> defaultTargets(Architecture arch, ModelConfig c) {
        List<Role> roles = arch.has(Role.QKV, c) ? List.of(Role.QKV) : List.of(Role.Q, Role.V);
        List<String> names = new ArrayList<>();
        for (Role r : roles) {
            String m = arch.moduleName(r, 0);
            names.add(m.substring(m.lastIndexOf('.') + 1));
        }
        return names;
    }

    /** The adapter config {@code s} describes for {@code base}, named {@code baseName} (null: unnamed) in it. */
    public static LoraConfig config(LanguageModel base, String baseName, Settings s) {
        Architecture arch = base.weights().architecture();
        ModelConfig c = base.config();
        List<String> targets = s.targetModules() == null ? defaultTargets(arch, c) : s.targetModules();
        LoraConfig cfg = targets.equals(List.of(LoraConfig.ALL_LINEAR))
                ? new LoraConfig(s.rank(), s.alpha(), null, LoraConfig.ALL_LINEAR, Map.of(), Map.of(), s.rslora(),
                arch.weightLayout() == WeightLayout.CONV1D, s.layers(), null, null, null, baseName)
                : LoraConfig.of(s.rank(), s.alpha(), s.rslora(), targets, s.layers(),
                arch.weightLayout() == WeightLayout.CONV1D, baseName);
        if (s.layers() != null) {
            for (int l : s.layers()) {
                if (l < 0 || l >= c.numLayers()) {
                    throw NeurotomeException.badInput("LoRA layer " + l + " is outside the model's layers 0.."
                            + (c.numLayers() - 1));
                }
            }
        }
        return cfg;
    }

    /**
     * Trains an adapter on {@code base} (whose weights stay as they are); progress lines go to
     * {@code err}. {@code baseName} is what the adapter's {@code base_model_name_or_path} and
     * the log record of the base (null: nothing, as for a model that is not kept). Trainings in
     * one process take turns ({@link #TURN}).
     */
    public static Result train(LanguageModel base, String baseName, TrainingData data, Settings s, PrintWriter err) {
        TURN.lock();
        try {
            // libtorch's grad mode is per thread and on in a new one, and the collector restores the
            // mode it found: off outside the collector, or AdamW's in-place steps on the trained
            // leaves are refused (a sweep's unit threads, which the engine was not started in)
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
            return trainAlone(base, baseName, data, s, err);
        } finally {
            TURN.unlock();
        }
    }

    private static Result trainAlone(LanguageModel base, String baseName, TrainingData data, Settings s,
                                     PrintWriter err) {
        base.weights().memory().requireKept(base.dir(), "training a LoRA");
        if (base.config().eosTokenIds().isEmpty() && data instanceof TrainingData.Corpus) {
            throw NeurotomeException.badInput(base.dir() + ": config.json has no eos_token_id to end corpus sentences");
        }
        LoraConfig config = config(base, baseName, s);
        Random random = new Random(s.seed());
        List<LoraModule> initial = LoraAdapter.initial(config, base.weights().architecture(), base.config(), random,
                "--target-modules / target_modules");
        TrainingSchedule sch = s.schedule();
        int eos = base.config().eosTokenIds().isEmpty() ? -1 : base.config().eosTokenIds().getFirst();
        TrainingData.Batches batches = data.batches(base::encode, eos, random.nextLong());
        List<String> log = new ArrayList<>();
        try (LoraParameters params = new LoraParameters(base.weights(), initial);
             Transformer model = params.transformer()) {
            Map<String, NDArray> arrays = params.arrays();
            log.add(startLine(base, baseName, config, data, s, params.count()).toString());
            err.printf(Locale.ROOT, "LoRA on %s: %s; %,d parameters, %d steps of %d%n", baseName == null ? "the model" : baseName,
                    LoraAdapter.summary(config, initial), params.count(), sch.steps(), sch.batchSize());
            long start = System.nanoTime();
            double lossSum = 0;
            double normSum = 0;
            int window = 0;
            double firstLoss = Double.NaN;
            double lastLoss = Double.NaN;
            try (AdamW optimizer = new AdamW(base.weights().manager(), arrays, Set.of(), sch.beta1(), sch.beta2(),
                    sch.epsilon(), sch.weightDecay())) {
                for (int step = 0; step < sch.steps(); step++) {
                    List<TrainingData.Example> batch = batches.next(sch.batchSize());
                    List<int[]> rows = new ArrayList<>(batch.size());
                    int[] first = new int[batch.size()];
                    for (int i = 0; i < batch.size(); i++) {
                        rows.add(batch.get(i).ids());
                        first[i] = batch.get(i).firstTarget();
                    }
                    double lr = sch.learningRate(step);
                    float loss;
                    double norm;
                    try (NDScope scope = new NDScope()) {
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                             ForwardResult r = model.forward(ForwardRequest.tokens(rows).withAllLogits().forTraining())) {
                            NDArray l = NextTokenLoss.of(r.logits(), rows, first);
                            gc.backward(l);
                            loss = l.getFloat();
                        }
                        norm = GradientClipping.globalNorm(arrays.values());
                        optimizer.step(lr, GradientClipping.scale(norm, sch.clipNorm()));
                    }
                    if (!Float.isFinite(loss)) {
                        throw NeurotomeException.badInput("LoRA training diverged: the loss is " + loss + " at step "
                                + step + "; lower the learning rate (now " + sch.peakLr() + ")");
                    }
                    lossSum += loss;
                    normSum += norm;
                    window++;
                    if ((step + 1) % LOG_EVERY == 0 || step + 1 == sch.steps()) {
                        double elapsed = (System.nanoTime() - start) / 1e9;
                        double mean = lossSum / window;
                        firstLoss = Double.isNaN(firstLoss) ? mean : firstLoss;
                        lastLoss = mean;
                        ObjectNode line = Json.MAPPER.createObjectNode().put("event", "step").put("step", step + 1)
                                .put("lr", lr).put("loss", round(mean)).put("grad_norm", round(normSum / window));
                        log.add(line.toString());
                        if ((step + 1) % Math.max(LOG_EVERY, sch.steps() / 10) == 0 || step + 1 == sch.steps()) {
                            err.printf(Locale.ROOT, "step %d/%d loss %.4f lr %.2e (%.0f ms/step)%n", step + 1, sch.steps(),
                                    mean, lr, 1000 * elapsed / (step + 1));
                            err.flush();
                        }
                        lossSum = 0;
                        normSum = 0;
                        window = 0;
                    }
                }
            }
            double wall = (System.nanoTime() - start) / 1e9;
            // times go to the console only: the log is hashed with the adapter, and repeats run to run
            err.printf(Locale.ROOT, "trained %d steps in %.1f s (%.0f ms/step)%n", sch.steps(), wall, 1000 * wall / sch.steps());
            err.flush();
            log.add(Json.MAPPER.createObjectNode().put("event", "end").put("steps", sch.steps())
                    .put("first_loss", round(firstLoss)).put("final_loss", round(lastLoss)).toString());
            return new Result(config, params.modules(), log, firstLoss, lastLoss);
        }
    }

    private static ObjectNode startLine(LanguageModel base, String baseName, LoraConfig config, TrainingData data,
                                        Settings s, long parameters) {
        ObjectNode line = Json.MAPPER.createObjectNode().put("event", "start");
        line.putObject("base").put("name", baseName).put("fingerprint", Manifest.fingerprint(base.dir()));
        line.set("adapter_config", config.toJson());
        line.set("data", data.describe());
        line.set("schedule", Json.MAPPER.valueToTree(s.schedule()));
        line.put("seed", s.seed());
        line.put("parameters", parameters);
        line.put("torch_threads", ai.djl.pytorch.jni.JniUtils.getNumThreads());
        return line;
    }

    private static double round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1e6) / 1e6 : v;
    }
}
