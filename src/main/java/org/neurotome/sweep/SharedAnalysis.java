package org.neurotome.sweep;

import org.neurotome.cna.Findings;
import org.neurotome.recipe.Locate;
import org.neurotome.recipe.RecipeLoader;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Consumer;

/**
 * An analysis unit that several variants of a sweep share: locate step {@code step} computed
 * once, keeping the top {@code top} (0: all), its full findings kept in the unit store as
 * {@code units/<key>/findings.json}. Its key is the SHA-256 of what the analysis depends on
 * ({@link SweepPlan}): the recipe, the overrides that can reach the analysis, the input files'
 * content and the top it keeps, so variants that differ only in how many of the ranking they
 * take, or in what they do after locating, find the same unit. A bounded search also states what
 * the searches for the variants' smaller tops would have scored, which each variant records.
 *
 * @param step the locate step's index
 * @param key  the content key
 * @param top  how many of the ranking it keeps: the largest top among the variants sharing it (0: all)
 * @param tops the tops of the variants sharing it
 */
public record SharedAnalysis(int step, String key, int top, List<Integer> tops) implements SharedUnit {
    public SharedAnalysis {
        tops = List.copyOf(tops);
    }

    @Override
    public String fileName() {
        return "findings.json";
    }

    @Override
    public String what() {
        return "shared ranking";
    }

    /** The findings for {@code unit}, whose overrides (its output's included) are {@code set}. */
    Findings findings(Unit unit, Map<String, String> set, BiFunction<Locate.Analysis, List<Integer>, Findings> run,
                      Consumer<String> log) {
        return readOrCompute(unit.store(), Findings::read, file -> {
            Map<String, String> wider = new LinkedHashMap<>(set);
            wider.put("locate." + step + ".top", Integer.toString(top));
            run.apply((Locate.Analysis) RecipeLoader.loadForRun(unit.recipe(), wider).locate().get(step), tops)
                    .write(file);
        }, log);
    }
}
