package org.neurotome.bench;

import ai.djl.Device;
import org.neurotome.arch.Head;
import org.neurotome.cna.Attribution;
import org.neurotome.cna.Comparison;
import org.neurotome.cna.PromptSet;
import org.neurotome.cna.Scoring;
import org.neurotome.cna.VocabularyProjection;
import org.neurotome.model.LanguageModel;

import java.nio.file.Path;
import java.util.List;

/**
 * How many neurons the bounds of {@code docs/bounds.md} rule out (neurons never scored exactly)
 * for a top 20 on the trained fixtures: attribution, CNA against contrast prompts and CNA
 * against an ablated head, each on a few arithmetic prompts of the fixtures' training data.
 * Counts only, no timing: the fixtures are too small for time to mean anything.
 *
 * <p>Usage: {@code scripts/bench BoundTightnessBenchmark}.
 */
public final class BoundTightnessBenchmark {
    private static final int TOP = 20;
    /** Prompt pairs: run A's text and target, run B's (contrast) text. */
    private static final String[][] PAIRS = {
        {"The sum of 3 and 4 is", " 7", "The sum of 3 and 5 is"},
        {"The sum of 12 and 7 is", " 19", "The sum of 12 and 9 is"},
        {"The sum of 6 and 2 is", " 8", "The sum of 5 and 2 is"},
    };

    private BoundTightnessBenchmark() {
    }

    public static void main(String[] args) {
        BenchTable t = new BenchTable("fixture", "prompt", "run", "neurons ruled out", "of", "ruled out, %");
        for (String name : List.of("fixture-llama", "fixture-gpt2")) {
            try (LanguageModel m = LanguageModel.open(Path.of("checkpoints", name), Device.cpu());
                 VocabularyProjection p = new VocabularyProjection(m.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES)) {
                Attribution at = new Attribution(m, p, Attribution.Options.defaults());
                Scoring top = Scoring.bounded(TOP, null);
                for (String[] pair : PAIRS) {
                    PromptSet a = PromptSet.ofText(m, pair[0], pair[1]);
                    PromptSet b = PromptSet.ofText(m, pair[2], pair[1]);
                    row(t, name, pair[0], "attribution", at.run(a, false, top).scored());
                    row(t, name, pair[0], "CNA contrast", Comparison.contrast(at, a, b, false, top).scored());
                    for (int layer = 0; layer < m.config().numLayers(); layer += 2) {
                        row(t, name, pair[0], "CNA head " + layer + ".0 ablated",
                                Comparison.headsAblated(at, a, List.of(new Head(layer, 0)), false, top).scored());
                    }
                }
            }
        }
        t.print();
    }

    private static void row(BenchTable t, String model, String prompt, String run, Scoring.Summary s) {
        long out = s.neuronsTotal() - s.neurons();
        t.row(model, prompt, run, out, s.neuronsTotal(), String.format("%.1f", 100.0 * out / s.neuronsTotal()));
    }
}
