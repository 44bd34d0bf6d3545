package org.neurotome.recipe;

import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.cna.Findings;

import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A {@code from: findings.json} locate step made ready for a run (and checked the same way by
 * {@code --dry-run}): the file is read; the fingerprint of the model it was computed on
 * ({@code model.fingerprint}, docs/findings.md) must be the recipe model's, unless
 * {@code --allow-other-model}; and when a later step names it directly ({@code ${id}}) it
 * stands for all its entries of the kind that step needs, which the file must hold.
 */
final class FindingsFileStep {
    private FindingsFileStep() {
    }

    /** Reads step {@code index}'s file and checks that it was computed on {@code model}. */
    static Findings read(Locate.FindingsFile step, int index, Path model, boolean allowOtherModel) {
        Findings f = Findings.read(step.from());
        if (allowOtherModel) {
            return f;
        }
        String where = "locate." + index + ".from: " + step.from();
        String theirs = f.document().path("model").path("fingerprint").asText("");
        String ours = Manifest.fingerprint(model);
        if (theirs.isEmpty()) {
            throw NeurotomeException.badInput(where + ": records no model.fingerprint, so it cannot be matched to the"
                    + " recipe's model " + model + "; pass --allow-other-model to use it anyway");
        }
        if (!theirs.equals(ours)) {
            throw NeurotomeException.badInput(where + ": was computed on another model ("
                    + f.document().path("model").path("path").asText("?") + ", fingerprint " + theirs
                    + "), not the recipe's model " + model + " (fingerprint " + ours
                    + "); pass --allow-other-model to use it anyway");
        }
        return f;
    }

    /**
     * What {@code ${id}} stands for when later steps name the step directly: all its entries of
     * the one kind they use; null when none does (only selects read it).
     */
    static Selection direct(Recipe recipe, Locate.FindingsFile step, int index, Findings f) {
        Map<String, ComponentKind> uses = recipe.usesOf(step.id());
        Set<ComponentKind> kinds = new LinkedHashSet<>(uses.values());
        if (kinds.isEmpty()) {
            return null;
        }
        String where = "locate." + index + ".from: " + step.from();
        if (kinds.size() > 1) {
            throw NeurotomeException.badInput(where + ": ${" + step.id() + "} is used as heads and as neurons ("
                    + String.join(", ", uses.keySet()) + "); add one select step per kind");
        }
        ComponentKind kind = kinds.iterator().next();
        Selection all = Selector.all(f, kind);
        if (all.size() == 0) {
            throw NeurotomeException.badInput(where + ": holds no " + kind.yamlName() + " (a " + f.method()
                    + " finding), but " + String.join(", ", uses.keySet()) + " use ${" + step.id() + "} as "
                    + kind.yamlName());
        }
        return all;
    }
}
