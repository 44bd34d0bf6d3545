package org.neurotome.recipe;

import org.neurotome.yaml.ReferencedFile;
import org.neurotome.yaml.SchemaViolation;

import java.util.ArrayList;
import java.util.List;

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
 */
public record Recipe(String description, ModelInput model, List<Locate> locate, List<Select> select,
                     List<Edit> edit, LoraTraining recover, Output output, EvalStage eval) {
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
        if (output.dir().toAbsolutePath().normalize().startsWith(model.path().toAbsolutePath().normalize())) {
            throw SchemaViolation.of("output directory inside the input checkpoint")
                    .at("output", "dir").got(output.dir().toString()).allowed("a directory outside " + model.path());
        }
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
