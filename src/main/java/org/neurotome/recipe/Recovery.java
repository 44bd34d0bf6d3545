package org.neurotome.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.NeurotomeException;
import org.neurotome.Scratch;
import org.neurotome.arch.LayerRange;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.DType;
import org.neurotome.eval.EvalReport;
import org.neurotome.eval.Suite;
import org.neurotome.eval.SuiteEvaluation;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.lora.LoraConfig;
import org.neurotome.lora.LoraTrainer;
import org.neurotome.model.LanguageModel;
import org.neurotome.surgery.Edit;
import org.neurotome.surgery.MergeLora;
import org.neurotome.surgery.Surgeon;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * A recipe's {@code recover} stage (P1 §6.1: prune, then recover accuracy with LoRA): the
 * edited model is written to a scratch directory beside the output and, when the plan
 * evaluates it, scored against the input (the "before recovery" report); a LoRA is trained on
 * it as {@code recover} says; the write stage then writes the output from the input with the
 * recipe's edits and the adapter merged after them ({@code merge-lora}), the adapter itself in
 * {@code adapter/} beside the weights, and the training recorded in the manifest. The scratch
 * directory {@code .<out>.recover-<pid>} is a {@link Scratch}: removed whatever happens, on
 * SIGTERM too, and, left by a killed run, by the next one.
 */
final class Recovery {
    /** Where the adapter goes inside the output directory. */
    static final String ADAPTER_DIR = "adapter";
    /** Where the before-recovery report goes inside the output's eval directory. */
    static final String BEFORE_DIR = "before-recovery";
    private static final String SCRATCH = "recover";

    private Recovery() {
    }

    /**
     * The trained recovery, for the write stage: the adapter (its files in a scratch directory
     * that stays until {@link #close}), the merge that applies it after the recipe's edits, the
     * adapter's files and the manifest's {@code recover} section, and the edited model's report
     * before recovery (null when the plan evaluates none).
     */
    record Trained(Scratch work, MergeLora merge, Map<String, byte[]> files, ObjectNode section, EvalReport beforeRecovery)
            implements AutoCloseable {
        @Override
        public void close() {
            work.close();
        }

        /** How the output is written with the adapter merged: its files and the {@code recover} section added. */
        Surgeon.Options writing(Surgeon.Options written) {
            Map<String, byte[]> all = new LinkedHashMap<>(written.extraFiles());
            all.putAll(files);
            Map<String, JsonNode> provenance = new LinkedHashMap<>(written.provenance());
            provenance.put("recover", section);
            return new Surgeon.Options(written.out(), written.dtype(), written.maxShardBytes(), written.force(), all,
                    provenance, written.metadata(), written.guard());
        }
    }

    /**
     * Trains the stage's LoRA: on the input when there are no edits, else on the edited model
     * written to a scratch directory beside the output (and, with {@code evaluateBefore}, scored
     * there against the input first).
     *
     * @param out        the output directory
     * @param dtype      the output's dtype (null: each tensor as in the input)
     * @param bestLayers the best layer of each lora-scan step, for {@code layers: ${id}}
     */
    static Trained train(Recipe recipe, Checkpoint input, List<Edit> edits, Path out, DType dtype,
                         boolean evaluateBefore, ai.djl.Device device, RecipeRunner.Options options,
                         Map<String, Integer> bestLayers, Function<Path, String> recorded) {
        LoraTraining recover = recipe.recover();
        Path target = out.toAbsolutePath().normalize();
        Scratch work = Scratch.directory(target, SCRATCH);
        try {
            Path scratch = work.path();
            Path edited = input.dir();
            EvalReport before = null;
            if (!edits.isEmpty()) {
                edited = scratch.resolve("edited");
                options.log().accept("write the edited model for recovery");
                Surgeon.apply(input, edits, new Surgeon.Options(edited, dtype, Long.MAX_VALUE, false, Map.of(),
                        Map.of(), Map.of()));
                if (evaluateBefore) {
                    options.log().accept("eval " + recipe.eval().suite().name() + " before recovery (baseline: the input)");
                    Path model = edited;
                    // the edited model lives in a scratch directory: the report names it by the output
                    Suite suite = recipe.eval().suite().definition();
                    before = SuiteEvaluation.run(suite, List.of(), edited, recipe.model().path(),
                            options.analyses().baseline(suite, recipe.model().path(), device, options.budget()), device,
                            options.budget(), null, options.eval()).recorded(p -> p.equals(model)
                            ? recorded.apply(target) + " (edited, before recovery)" : recorded.apply(p));
                }
            }
            LayerRange layers = switch (recover.layers()) {
                case null -> null;
                case LayerSource.Range r -> r.range();
                case Reference ref -> new LayerRange(bestLayers.get(ref.id()), bestLayers.get(ref.id()));
            };
            Path adapterDir = scratch.resolve(ADAPTER_DIR);
            LoraTrainer.Result trained;
            try (LanguageModel lm = LanguageModel.open(edited, device, options.budget())) {
                LoraTrainer.Settings settings = recover.settings(lm.config(), layers);
                options.log().accept("recover: train a LoRA on " + (edits.isEmpty() ? "the input" : "the edited model")
                        + " (" + (layers == null ? "all layers" : "layers " + layers) + ", " + settings.schedule().steps()
                        + " steps)");
                // the adapter's base is the edited model, which is not kept: it has no name
                trained = LoraTrainer.train(lm, null, recover.data(), settings, lines(options.log()));
                options.log().accept(String.format(java.util.Locale.ROOT, "recover: loss %.4f -> %.4f",
                        trained.firstLoss(), trained.finalLoss()));
                Map<String, JsonNode> provenance = new LinkedHashMap<>();
                provenance.put("training", training(recover, trained, recorded));
                LoraAdapter.write(adapterDir, trained.config(), trained.modules(),
                        Map.of("training-log.jsonl", trained.logFile()), provenance, false, null);
            }
            LoraAdapter adapter = LoraAdapter.read(adapterDir);
            Map<String, byte[]> files = new LinkedHashMap<>();
            try (Stream<Path> list = Files.list(adapterDir)) {
                for (Path f : list.sorted().toList()) {
                    files.put(ADAPTER_DIR + "/" + f.getFileName(), Files.readAllBytes(f));
                }
            }
            ObjectNode section = training(recover, trained, recorded);
            section.put("adapter", ADAPTER_DIR);
            section.put("adapter_sha256", adapter.fingerprint());
            section.put("summary", LoraAdapter.summary(trained.config(), trained.modules()));
            return new Trained(work, new MergeLora(adapter, 1.0, ADAPTER_DIR), files, section, before);
        } catch (IOException e) {
            work.close();
            throw NeurotomeException.outputFailed(target + ": cannot write the recovery's scratch files: "
                    + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            work.close();
            throw e;
        }
    }

    /** A writer whose lines go to the run's log (the console), where the training's times belong. */
    private static PrintWriter lines(java.util.function.Consumer<String> log) {
        return new PrintWriter(new Writer() {
            private final StringBuilder line = new StringBuilder();

            @Override
            public void write(char[] text, int off, int len) {
                for (int i = off; i < off + len; i++) {
                    if (text[i] == '\n') {
                        log.accept("recover: " + line);
                        line.setLength(0);
                    } else {
                        line.append(text[i]);
                    }
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        });
    }

    /** What the recovery trained: settings, data, losses, the adapter's shape. */
    private static ObjectNode training(LoraTraining recover, LoraTrainer.Result trained,
                                       Function<Path, String> recorded) {
        ObjectNode o = recover.describe(recorded);
        LoraConfig c = trained.config();
        if (c.layersToTransform() != null) {
            ArrayNode layers = o.putArray("layers");
            c.layersToTransform().forEach(layers::add);
        }
        o.put("r", c.r()).put("lora_alpha", c.alpha()).put("use_rslora", c.useRslora());
        ArrayNode t = o.putArray("target_modules");
        c.targetModules().forEach(t::add);
        ArrayNode modules = o.putArray("modules");
        trained.modules().forEach(m -> modules.add(m.module()));
        o.put("parameters", trained.modules().stream().mapToLong(m -> m.parameters()).sum());
        o.put("first_loss", trained.firstLoss()).put("final_loss", trained.finalLoss());
        return o;
    }
}
