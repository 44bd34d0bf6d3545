package org.neurotome.recipe;

import org.neurotome.arch.LayerRange;

import com.fasterxml.jackson.databind.module.SimpleModule;
import org.neurotome.yaml.Document;
import org.neurotome.yaml.StrictYaml;

import java.nio.file.Path;
import java.util.Map;

/**
 * Reads a surgery recipe strictly (see {@link StrictYaml}): unknown keys, wrong types, missing
 * keys, unknown ops and methods, and bad references are BAD_INPUT errors with
 * {@code file:line:column}, the bad value and what is allowed. {@code --set} overrides edit the
 * document before it is bound, as if they had been written in it (relative paths they give
 * resolve against the recipe's folder too).
 */
public final class RecipeLoader {
    /** Deserializer attribute: whether referenced files must exist (the suite's datasets). */
    static final String CHECK_FILES = RecipeLoader.class.getName() + ".checkFiles";

    private static final StrictYaml YAML = new StrictYaml(new SimpleModule("recipe")
            .addDeserializer(Locate.class, new Locate.Deserializer())
            .addDeserializer(Edit.class, new Edit.Deserializer())
            .addDeserializer(LayerRange.class, new LayerRangeDeserializer()));

    private RecipeLoader() {
    }

    /**
     * Reads and validates a recipe and checks that every file it reads exists: the model
     * directory, datasets, findings files, checkpoints compared against, the suite and its datasets.
     *
     * @param overrides dotted key → YAML value, applied in map order ({@code --set})
     */
    public static Recipe load(Path file, Map<String, String> overrides) {
        Document<Recipe> doc = YAML.read(file, Recipe.class, overrides, Map.of(CHECK_FILES, true));
        doc.requireFiles(doc.value().inputFiles());
        return doc.value();
    }

    /**
     * As {@link #load}, then checks the recipe's literal values against what they refer to
     * ({@link InputFit}: heads, neurons, layers and token ids the model has; a {@code where}
     * some case matches), so what would fail once the run reaches it fails now, positioned.
     */
    public static Recipe loadForRun(Path file, Map<String, String> overrides) {
        Document<Recipe> doc = YAML.read(file, Recipe.class, overrides, Map.of(CHECK_FILES, true));
        doc.requireFiles(doc.value().inputFiles());
        InputFit.check(doc);
        return doc.value();
    }

    /** Reads and validates a recipe (and its suite) without touching the model or data files. */
    public static Recipe parse(Path file, Map<String, String> overrides) {
        return YAML.read(file, Recipe.class, overrides, Map.of(CHECK_FILES, false)).value();
    }
}
