package org.neurotome.eval;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The suites shipped in {@code eval/suites/} are valid against the schema (parsed; datasets are built separately). */
class ShippedSuitesTest {
    static final Path SUITES = Path.of("eval/suites");
    static final Path DATASETS = Path.of("eval/datasets");

    @Test
    void everyShippedSuiteParsesAndReadsTheSharedDatasets() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(SUITES)) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertEquals(List.of("arithmetic.yaml", "gender.yaml", "release.yaml"),
                files.stream().map(p -> p.getFileName().toString()).toList());
        for (Path f : files) {
            Suite s = SuiteLoader.parse(f);
            assertEquals(f.getFileName().toString(), s.name() + ".yaml");
            for (Task t : s.tasks()) {
                assertEquals(DATASETS.resolve(t.kind().yamlName() + ".jsonl"), t.dataset(), f + " " + t.id());
            }
            assertTrue(!s.gates().isEmpty(), f.toString());
        }
    }

    @Test
    void releaseSuiteCoversArithmeticGenderFactualAndLanguage() {
        Suite s = SuiteLoader.parse(SUITES.resolve("release.yaml"));
        assertEquals(List.of("arithmetic", "gender", "factual", "language"), s.taskIds());
        assertEquals(List.of("arithmetic", "gender", "factual", "language"),
                s.gates().stream().map(Gate::task).distinct().toList());
    }

    @Test
    void genderSuiteAsksForTheBiasGapToFallByThirtyPercent() {
        Suite s = SuiteLoader.parse(SUITES.resolve("gender.yaml"));
        Gate bias = s.gates().getFirst();
        // P1 Table 13: 1.26 -> 0.81 passes, 1.26 -> 1.0 does not
        assertTrue(bias.evaluate(Map.of("gender.bias_gap", 0.81),
                Map.of("gender.bias_gap", 1.26)).passed());
        assertTrue(!bias.evaluate(Map.of("gender.bias_gap", 1.0),
                Map.of("gender.bias_gap", 1.26)).passed());
    }
}
