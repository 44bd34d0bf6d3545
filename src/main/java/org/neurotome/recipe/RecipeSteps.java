package org.neurotome.recipe;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;

import java.util.Locale;
import java.util.Map;

/**
 * The steps a recipe ran, as {@code manifest.json} records them under {@code steps}: each
 * analysis with its method, input and comparison, each select with what it chose, each edit
 * with the step whose findings it used, and the eval suite. With the edits' own records this is
 * what the model card says about how every edited component was found.
 */
public final class RecipeSteps {
    /** The manifest section. */
    public static final String SECTION = "steps";

    private RecipeSteps() {
    }

    /** The steps of {@code recipe}, with the sizes of the selections made at run time. */
    public static ArrayNode describe(Recipe recipe, Map<String, Selection> selections) {
        ArrayNode steps = Json.MAPPER.createArrayNode();
        for (Locate step : recipe.locate()) {
            ObjectNode o = steps.addObject().put("stage", "locate").put("id", step.id());
            switch (step) {
                case Locate.FindingsFile f -> o.put("method", "findings file").put("from", f.from().getFileName().toString());
                case Locate.Analysis a -> {
                    o.put("method", a.method()).put("input", input(a));
                    if (a instanceof Locate.Cna cna) {
                        o.put("against", switch (cna.comparison()) {
                            case CnaComparison.AblatedHeads h -> "heads " + heads(h.heads(), selections) + " ablated";
                            case CnaComparison.OtherCheckpoint c -> "checkpoint " + c.checkpoint().getFileName();
                            case CnaComparison.WithAdapter w -> "the model with LoRA adapter " + w.adapter().getFileName();
                            case CnaComparison.ContrastPrompts p -> p.prompts().size() == 1
                                    ? "the contrast prompt \"" + p.prompts().getFirst() + "\"" : p.prompts().size() + " contrast prompts";
                        });
                    }
                    if (a instanceof Locate.LoraScan scan) {
                        o.put("against", scan.scan() != null && scan.scan().last() != null
                                && scan.scan().first() == scan.scan().last() ? "the model with a LoRA on layer " + scan.scan().first()
                                : "the model with a LoRA on the best of " + (scan.scan() == null ? "all layers" : "layers " + scan.scan()));
                    }
                    o.put("top", a.top());
                }
            }
        }
        for (Select s : recipe.select()) {
            ObjectNode o = steps.addObject().put("stage", "select").put("id", s.id()).put("from", s.from())
                    .put("kind", s.kind().name().toLowerCase(Locale.ROOT));
            Selection chosen = selections.get(s.id());
            if (chosen != null) {
                o.put("chose", chosen.size());
            }
        }
        for (Edit e : recipe.edit()) {
            ObjectNode o = steps.addObject().put("stage", "edit").put("op", e.op());
            if (e.components() instanceof Reference r) {
                o.put("uses", r.id());
            } else {
                o.putNull("uses");
            }
        }
        if (recipe.recover() != null) {
            LoraTraining r = recipe.recover();
            steps.addObject().put("stage", "recover").put("rank", r.rank()).put("steps", r.steps())
                    .put("data", r.corpus() != null ? r.corpus() + " corpus" : r.dataset().getFileName().toString());
        }
        if (recipe.eval() != null) {
            steps.addObject().put("stage", "eval").put("suite", recipe.eval().suite().name())
                    .put("gates", recipe.eval().gates().size());
        }
        return steps;
    }

    /** Heads as ablated: listed, or those an earlier step found ({@code ${id}} resolved once it ran). */
    private static String heads(HeadSet set, Map<String, Selection> selections) {
        return set instanceof Reference ref && !(selections.get(ref.id()) instanceof Selection.Heads)
                ? set.toString() : new HeadSet.Listed(Selection.heads(set, selections)).toString();
    }

    /** The input of an analysis in words: {@code 1 prompt}, {@code 400 cases of arithmetic.jsonl}. */
    private static String input(Locate.Analysis a) {
        int n = Planner.cases(a);
        return switch (a.input()) {
            case AnalysisInput.Prompts p -> plural(p.prompts().size(), "prompt")
                    + (p.prompts().size() == 1 ? " \"" + p.prompts().getFirst() + "\"" : "");
            case AnalysisInput.TokenIds t -> plural(t.sequences().size(), "token-id sequence");
            case AnalysisInput.DatasetCases d -> plural(n, "case") + " of " + d.dataset().getFileName();
        };
    }

    private static String plural(int n, String what) {
        return n + " " + what + (n == 1 ? "" : "s");
    }
}
