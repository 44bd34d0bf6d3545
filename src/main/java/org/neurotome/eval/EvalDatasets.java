package org.neurotome.eval;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The five evaluation data sets of {@code eval/datasets/} (docs/method.md A6), generated from one
 * seed: the same seed gives the same bytes. {@code eval/README.md} documents every file and
 * label.
 */
public final class EvalDatasets {
    /** The seed of the committed files. */
    public static final long DEFAULT_SEED = 2024L;
    /** Sentences in {@code language.jsonl}. */
    public static final int LANGUAGE_COUNT = 200;

    private EvalDatasets() {
    }

    /** One data set: its name (the file is {@code name + ".jsonl"}) and its cases. */
    public record Dataset(String name, List<EvalCase> cases) {
        public Dataset {
            cases = List.copyOf(cases);
        }

        public String fileName() {
            return name + ".jsonl";
        }
    }

    /** All five sets, in the order arithmetic, gender, pronoun, factual, language. */
    public static List<Dataset> generate(long seed) {
        return List.of(
                new Dataset("arithmetic", ArithmeticDataset.cases(seed)),
                new Dataset("gender", GenderDatasets.occupationCases()),
                new Dataset("pronoun", GenderDatasets.pronounCases()),
                new Dataset("factual", GenderDatasets.factualCases()),
                new Dataset("language", languageCases(seed)));
    }

    /** Writes every set into {@code dir} (created if needed), replacing files of the same name; returns the sets. */
    public static List<Dataset> write(Path dir, long seed) {
        List<Dataset> datasets = generate(seed);
        for (Dataset dataset : datasets) {
            EvalCaseFile.write(dir.resolve(dataset.fileName()), dataset.cases());
        }
        return datasets;
    }

    /**
     * {@code language.jsonl}: {@value #LANGUAGE_COUNT} distinct held-out grammar sentences in
     * draw order; the prompt is the first two words, the target the rest with its period.
     */
    public static List<EvalCase> languageCases(long seed) {
        // a stream apart from the arithmetic draws of the same seed
        Random random = new Random(seed + 1);
        Set<String> seen = new LinkedHashSet<>();
        List<EvalCase> cases = new ArrayList<>();
        while (cases.size() < LANGUAGE_COUNT) {
            FillerGrammar.Sentence s = FillerGrammar.sampleHeldOut(random);
            if (seen.add(s.text())) {
                cases.add(new EvalCase(s.head(), s.rest(), new EvalCase.Labels().put("kind", "language").build()));
            }
        }
        return cases;
    }
}
