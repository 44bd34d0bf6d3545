package org.neurotome.recipe;

import org.neurotome.yaml.ReferencedFile;
import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A surgery recipe: which model, what to locate, what to select, how to edit, where to write,
 * and how to judge the result. Read with {@link RecipeLoader}; the schema is documented in
 * {@code docs/recipes.md}. Everything here is validated — references resolve to earlier steps
 * of the right kind, paths are resolved against the recipe's folder — so an executor can walk
 * the records without re-parsing anything.
 *
 * @param description one line on what the recipe does (optional)
 * @param model       the input checkpoint
 * @param locate      analyses producing named findings, in run order (may be empty)
 * @param select      named subsets of findings, in run order (may be empty)
 * @param edit        the weight edits, applied in order (at least one, unless a recover stage follows)
 * @param recover     a LoRA trained on the edited model (P1 §6.1's recovery), merged into the
 *                    output and written beside it; null when absent
 * @param output      where the edited checkpoint goes
 * @param eval        the suite run on the result, with the input as baseline; null when absent
 * @param sweep       the grid and objective of {@code neurotome sweep}; null when absent ({@code apply}
 *                    ignores it)
 */
public record Recipe(String description, ModelInput model, List<Locate> locate, List<Select> select,
                     List<Edit> edit, LoraTraining recover, Output output, EvalStage eval, Sweep sweep) {
    public Recipe {
        if (model == null) {
            throw SchemaViolation.missingKey("model", "the input checkpoint: path, device");
        }
        if (edit == null && recover == null) {
            throw SchemaViolation.missingKey("edit", "a list of one or more edits (or a recover stage)");
        }
        if (edit != null && edit.isEmpty() && recover == null) {
            throw SchemaViolation.of("empty list").at("edit").allowed("one or more edits (or a recover stage)");
        }
        if (output == null) {
            throw SchemaViolation.missingKey("output", "where the edited checkpoint is written: dir, dtype, "
                    + "max_shard_size");
        }
        locate = items(locate, "locate");
        select = items(select, "select");
        edit = items(edit, "edit");
        select = List.copyOf(References.check(locate, select, edit, recover));
    }

    /** The files and directories the recipe reads, keyed by where it names them. */
    public List<ReferencedFile> inputFiles() {
        List<ReferencedFile> files = new ArrayList<>();
        files.add(new ReferencedFile("model.path", model.path(), true));
        for (int i = 0; i < locate.size(); i++) {
            switch (locate.get(i)) {
                case Locate.FindingsFile f -> files.add(new ReferencedFile("locate." + i + ".from", f.from(), false));
                case Locate.Analysis a -> {
                    if (a.dataset() != null) {
                        files.add(new ReferencedFile("locate." + i + ".dataset", a.dataset(), false));
                    }
                    if (a instanceof Locate.Cna cna && cna.against() != null) {
                        files.add(new ReferencedFile("locate." + i + ".against", cna.against(), true));
                    }
                    if (a instanceof Locate.Cna cna && cna.againstAdapter() != null) {
                        files.add(new ReferencedFile("locate." + i + ".against_adapter", cna.againstAdapter(), true));
                    }
                    if (a instanceof Locate.LoraScan scan) {
                        if (scan.train().dataset() != null) {
                            files.add(new ReferencedFile("locate." + i + ".train.dataset", scan.train().dataset(), false));
                        }
                        files.add(new ReferencedFile("locate." + i + ".score.dataset", scan.score().dataset(), false));
                    }
                }
            }
        }
        for (int i = 0; i < edit.size(); i++) {
            if (edit.get(i) instanceof Edit.MergeLora m) {
                files.add(new ReferencedFile("edit." + i + ".adapter", m.adapter(), true));
            }
        }
        if (recover != null && recover.dataset() != null) {
            files.add(new ReferencedFile("recover.dataset", recover.dataset(), false));
        }
        return files;
    }

    /**
     * Where {@code ${id}} is used, by place ({@code edit.0}, {@code locate.2.ablate}), with the
     * kind each place takes it as.
     */
    public Map<String, ComponentKind> usesOf(String id) {
        Map<String, ComponentKind> uses = new LinkedHashMap<>();
        for (int i = 0; i < locate.size(); i++) {
            if (locate.get(i) instanceof Locate.Cna cna && cna.ablate() instanceof Reference r && r.id().equals(id)) {
                uses.put("locate." + i + ".ablate", ComponentKind.HEADS);
            }
        }
        for (int k = 0; k < edit.size(); k++) {
            Object set = switch (edit.get(k)) {
                case Edit.ZeroHeads e -> e.heads();
                case Edit.KeepHeads e -> e.heads();
                case Edit.ZeroNeurons e -> e.neurons();
                case Edit.ScaleNeurons e -> e.neurons();
                case Edit.KeepNeurons e -> e.neurons();
                case Edit.ZeroExperts e -> e.experts();
                case Edit.PruneExperts e -> e.experts();
                case Edit.Compact e -> null;
                case Edit.MergeLora e -> null;
            };
            if (set instanceof Reference r && r.id().equals(id)) {
                uses.put("edit." + k, kind(edit.get(k)));
            }
        }
        return uses;
    }

    private static ComponentKind kind(Edit e) {
        return e instanceof Edit.ZeroHeads || e instanceof Edit.KeepHeads ? ComponentKind.HEADS
                : e instanceof Edit.ZeroExperts || e instanceof Edit.PruneExperts ? ComponentKind.EXPERTS
                : ComponentKind.NEURONS;
    }

    /**
     * What the output may not overlap: the recipe file, every file and directory it reads, and
     * the eval suite file with its data sets, each described by the key that names it.
     */
    public Map<String, Path> protectedInputs(Path recipeFile) {
        Map<String, Path> inputs = new LinkedHashMap<>();
        inputs.put("the recipe", recipeFile);
        List<ReferencedFile> files = new ArrayList<>(inputFiles());
        if (eval != null) {
            files.add(new ReferencedFile("eval.suite", eval.suite().path(), false));
            eval.suite().datasets().forEach(f -> files.add(new ReferencedFile("eval.suite " + f.key(), f.path(), false)));
        }
        for (ReferencedFile f : files) {
            inputs.put((f.directory() ? "the checkpoint" : "the file") + " named by " + f.key(), f.path());
        }
        return inputs;
    }

    private static <T> List<T> items(List<T> list, String key) {
        if (list == null) {
            return List.of();
        }
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i) == null) {
                throw SchemaViolation.of("empty item").at(key, i).allowed("a mapping");
            }
        }
        return List.copyOf(list);
    }
}
