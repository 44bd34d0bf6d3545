package org.neurotome.recipe;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What a recipe will do, as a value: its stages in order, each with what it reads and what it
 * yields (and, for a stage that runs a model, the share of the memory budget it works in), how
 * the weights are held under the memory budget, and the estimate ({@link Estimate}). {@link Planner}
 * makes it from the recipe, the checkpoint's header and the budget alone; {@code apply
 * --dry-run} prints it as text ({@link #text()}) or JSON ({@link #toJson()}), and the JSON reads
 * back into an equal value ({@link #fromJson}), so a plan can be stored and scheduled.
 */
public record Plan(List<Stage> stages, Residency residency, Estimate estimate) {

    public Plan {
        stages = List.copyOf(stages);
    }

    /** One stage of a recipe run. */
    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "stage")
    @JsonSubTypes({
            @JsonSubTypes.Type(value = Model.class, name = "model"),
            @JsonSubTypes.Type(value = FindingsFrom.class, name = "findings-from"),
            @JsonSubTypes.Type(value = Analyse.class, name = "analyse"),
            @JsonSubTypes.Type(value = Select.class, name = "select"),
            @JsonSubTypes.Type(value = EditAtRunTime.class, name = "edit-at-run-time"),
            @JsonSubTypes.Type(value = EditTensor.class, name = "edit-tensor"),
            @JsonSubTypes.Type(value = EditListed.class, name = "edit-listed"),
            @JsonSubTypes.Type(value = RewriteConfig.class, name = "rewrite-config"),
            @JsonSubTypes.Type(value = Recover.class, name = "recover"),
            @JsonSubTypes.Type(value = Write.class, name = "write"),
            @JsonSubTypes.Type(value = Evaluate.class, name = "evaluate"),
            @JsonSubTypes.Type(value = Card.class, name = "card"),
            @JsonSubTypes.Type(value = Archive.class, name = "archive")})
    public sealed interface Stage {
        /** The stage as one line of {@code apply --dry-run}. */
        String line();
    }

    /** The input checkpoint every stage reads: its path relative to the recipe's folder, shape and size. */
    public record Model(String path, String modelType, int layers, int heads, int kvHeads, int ffn, long parameters,
                        long bytes) implements Stage {
        @Override
        public String line() {
            return format("model    %s: %s, %d layers, %d heads (%d kv), %d FFN neurons/layer, %,d parameters, %s",
                    path, modelType, layers, heads, kvHeads, ffn, parameters, mib(bytes));
        }
    }

    /** Findings {@code id} read from a file instead of computed. */
    public record FindingsFrom(String id, String from) implements Stage {
        @Override
        public String line() {
            return format("locate   %s: findings from %s", id, from);
        }
    }

    /**
     * An analysis yielding findings {@code id}: {@code method} on {@code cases} cases read from
     * {@code input} (a data set with its filter, or the recipe's prompts or ids), about
     * {@code forwardPasses} forward passes, keeping the top {@code top} (0: all); it works in
     * {@code memory} bytes beside the input model's weights (a second model it opens among them).
     */
    public record Analyse(String id, String method, String input, int cases, long forwardPasses, int top,
                          @JsonInclude(JsonInclude.Include.NON_NULL) Long memory) implements Stage {
        @Override
        public String line() {
            return format("locate   %s: %s on %d case%s, about %,d forward passes; keeps the top %s%s",
                    id, method, cases, cases == 1 ? "" : "s", forwardPasses, top == 0 ? "all" : top,
                    worksIn(memory, " beside the weights"));
        }
    }

    /** Selection {@code id} from the findings {@code from}. */
    public record Select(String id, String from, String kind, Integer top, Double threshold, String layers,
                         boolean perCase, @JsonInclude(JsonInclude.Include.NON_NULL) Integer lowest) implements Stage {
        @Override
        public String line() {
            return format("select   %s: from %s, %s%s%s%s", id, from, kind, top == null ? "" : ", top " + top,
                    threshold == null ? "" : ", value >= " + threshold,
                    (layers == null ? "" : ", layers " + layers) + (perCase ? ", union of per-case tops" : "")
                            + (lowest == null ? "" : ", the lowest " + lowest + " of every sparse layer"));
        }
    }

    /**
     * What the recipe's edits touch, as one or more stages: tensors known now, edits chosen at
     * run time, listed edits lowered after those, the rewritten config. They are views of one
     * step, which resolves every edit of the recipe and which the write stage applies.
     */
    public sealed interface EditStage extends Stage permits EditAtRunTime, EditTensor, EditListed, RewriteConfig {
    }

    /** An edit of components known only when the run has located them ({@code components} is the reference). */
    public record EditAtRunTime(String op, String components, String touches) implements EditStage {
        @Override
        public String line() {
            return format("edit     %s on %s chosen at run time: touches their %s", op, components, touches);
        }
    }

    /**
     * One tensor's edit, known now: {@code kind} (zero, scale, keep, add, …) of rows or columns
     * ({@code axis}) given as {@code ranges}, {@code count} of them; for an addition,
     * {@code addend} describes what is added, for a rename it is the new name; a drop leaves
     * the tensor out.
     */
    public record EditTensor(String tensor, String kind, Integer axis, String ranges, Integer count, String addend)
            implements EditStage {
        @Override
        public String line() {
            return switch (kind) {
                case "rename" -> format("edit     rename %s to %s", tensor, addend);
                case "drop" -> format("edit     drop %s", tensor);
                default -> addend != null ? format("edit     add %s to %s", addend, tensor)
                    : format("edit     %s %s %s of %s (%d)", kind, axis == 0 ? "rows" : "columns", ranges, tensor, count);
            };
        }
    }

    /** Listed edits lowered only once the run-time ones are known. */
    public record EditListed(int count) implements EditStage {
        @Override
        public String line() {
            return format("edit     %d listed edit(s) lowered after the run-time ones are known", count);
        }
    }

    /** {@code config.json} as the edits rewrite it. */
    public record RewriteConfig(String config) implements EditStage {
        @Override
        public String line() {
            return format("config   rewritten: %s", config);
        }
    }

    /**
     * A LoRA trained on the edited model and merged into it, the adapter kept in {@code adapterDir};
     * the training works in {@code memory} bytes, the edited model's weights among them.
     */
    public record Recover(int rank, double alpha, boolean rslora, String targets, String layers, int steps,
                          int batchSize, String data, String adapterDir,
                          @JsonInclude(JsonInclude.Include.NON_NULL) Long memory) implements Stage {
        @Override
        public String line() {
            return format("recover  LoRA r %d, alpha %s%s on %s, layers %s: %d steps of %d rows from %s; merged into "
                    + "the output, the adapter in %s/%s", rank, alpha, rslora ? " (rsLoRA)" : "", targets, layers, steps,
                    batchSize, data, adapterDir, worksIn(memory, ", the model's weights among them"));
        }
    }

    /** The output checkpoint and its provenance files. */
    public record Write(String dir, String dtype, String shards) implements Stage {
        @Override
        public String line() {
            return format("output   %s (dtype %s, %s), with recipe.yaml, findings.json, manifest.json", dir, dtype,
                    shards);
        }
    }

    /** The model card written into the output once it is evaluated: base model, edits and how they were found, gates. */
    public record Card(String file) implements Stage {
        @Override
        public String line() {
            return format("card     %s: the model card (base model, every edit and what located it, the gates)", file);
        }
    }

    /** The archive of the output, written only when every gate passes if there are gates. */
    public record Archive(String path, boolean onlyWhenGatesPass) implements Stage {
        @Override
        public String line() {
            return format("archive  %s%s", path, onlyWhenGatesPass ? ", when every gate passes" : "");
        }
    }

    /**
     * The eval suite run on the output against the input (and on the model before recovery, with
     * a recover stage), in {@code memory} bytes, both models' weights among them.
     */
    public record Evaluate(String suite, int tasks, int cases, int gates, boolean beforeRecovery,
                           @JsonInclude(JsonInclude.Include.NON_NULL) Long memory) implements Stage {
        @Override
        public String line() {
            return format("eval     suite %s: %d tasks, up to %d cases, candidate and baseline; %d gates%s%s", suite,
                    tasks, cases, gates, beforeRecovery ? "; the edited model too, before recovery" : "",
                    worksIn(memory, ", both models' weights among them"));
        }
    }

    /**
     * How the weights are held under the budget ({@code budget} says where it came from):
     * kept ({@code keptBytes} in float32) or streamed (the largest layer, whether the
     * unembedding is kept, the passes over the {@code checkpointBytes} of the checkpoint).
     * Null in a plan that runs no model.
     */
    public record Residency(boolean streamed, String budget, long keptBytes, long layerBytes, boolean unembedKept,
                            int passes, long checkpointBytes, RoutedExperts experts) {
        public String line() {
            String weights = streamed
                    ? format("weights  streamed one layer at a time under %s (largest layer %s in float32; unembedding "
                    + "%s); about %d passes, each reading the %s of the checkpoint", budget, mib(layerBytes),
                    unembedKept ? "kept" : "read in blocks", passes, mib(checkpointBytes))
                    : format("weights  kept in memory (%s in float32) under %s", mib(keptBytes), budget);
            return experts == null ? weights : weights + "\n" + experts.line(streamed);
        }
    }

    /**
     * What a forward of a sparse layer reads of its experts: each position is routed to
     * {@code topK} of {@code count} experts, each expert {@code expertBytes} as stored, in
     * {@code sparseLayers} layers. Streamed, a layer reads its attention, router (and shared
     * expert) first, then only the experts its router selected at some position of the batch.
     */
    public record RoutedExperts(int topK, int count, int sparseLayers, long expertBytes) {
        String line(boolean streamed) {
            return format("experts  %d sparse layers of %d experts, %d routed per position (%s each as stored): %s",
                    sparseLayers, count, topK, mib(expertBytes), streamed
                            ? format("a forward of one position reads %s of a layer's %s of experts, a batch at most"
                            + " the experts its router selects somewhere in it", mib(topK * expertBytes),
                            mib(count * expertBytes))
                            : "all kept in memory; a position computes with " + topK + " of them");
        }
    }

    /** The plan as {@code apply --dry-run} prints it: one line per stage, the weights, the estimate. */
    public String text() {
        StringBuilder b = new StringBuilder();
        stages.forEach(s -> b.append(s.line()).append('\n'));
        if (residency != null) {
            b.append(residency.line()).append('\n');
        }
        b.append(estimate.text());
        return b.toString();
    }

    /** The plan as JSON ({@code apply --dry-run --json}); each stage names its kind in {@code stage}. */
    public String toJson() {
        try {
            return Json.pretty().writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The stages as an output's {@code manifest.json} records them under {@code plan}: the same
     * JSON as {@link #toJson()}'s stages, but where the output itself lies is written relative to
     * it (the write stage's dir as {@code .}, the archive beside it as {@code ../NAME}), so the
     * bytes of an output do not depend on where it was written and it stays true when moved.
     * The residency, the estimate and the stages' memory shares depend on the machine's memory
     * and are left out.
     */
    public Plan asRecordedInOutput() {
        return new Plan(stages.stream().map(s -> switch (s) {
            case Write w -> new Write(".", w.dtype(), w.shards());
            case Archive a -> new Archive("../" + Path.of(a.path()).getFileName(), a.onlyWhenGatesPass());
            default -> withMemory(s, null);
        }).toList(), null, null);
    }

    /**
     * {@code stage} with its memory share set to {@code memory} (null: none stated); a stage
     * that runs no model has none and is returned as it is.
     */
    static Stage withMemory(Stage stage, Long memory) {
        return switch (stage) {
            case Analyse a -> new Analyse(a.id(), a.method(), a.input(), a.cases(), a.forwardPasses(), a.top(), memory);
            case Recover r -> new Recover(r.rank(), r.alpha(), r.rslora(), r.targets(), r.layers(), r.steps(),
                    r.batchSize(), r.data(), r.adapterDir(), memory);
            case Evaluate e -> new Evaluate(e.suite(), e.tasks(), e.cases(), e.gates(), e.beforeRecovery(), memory);
            default -> stage;
        };
    }

    /** {@link #asRecordedInOutput()} as the manifest's {@code plan} section: {@code {"stages": [...]}}. */
    public ObjectNode manifestSection() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.set("stages", Json.MAPPER.valueToTree(asRecordedInOutput()).get("stages"));
        return o;
    }

    /** A plan read back from {@link #toJson()} (or a manifest's {@code plan} section, which has only stages). */
    public static Plan fromJson(String json) {
        try {
            return Json.MAPPER.readValue(json, Plan.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not a plan: " + e.getOriginalMessage(), e);
        }
    }

    /** "; works in N MiB" and what it includes, or nothing where no share is stated. */
    private static String worksIn(Long memory, String including) {
        return memory == null ? "" : "; works in " + mib(memory) + including;
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
    }

    private static String format(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
