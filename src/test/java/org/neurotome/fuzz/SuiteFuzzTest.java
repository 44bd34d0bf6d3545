package org.neurotome.fuzz;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.eval.SuiteLoader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The suite loader ({@link SuiteLoader#parse}) on mutated suites, shipped and test. Harness: {@link ParserFuzz}. */
class SuiteFuzzTest {
    static final String TARGET = "suite";
    private static final List<byte[]> SEEDS = seeds();

    private static List<byte[]> seeds() {
        List<byte[]> s = new java.util.ArrayList<>(ParserFuzz.seeds(Path.of("eval/suites"), "*.yaml"));
        s.addAll(ParserFuzz.seeds(Path.of("src/test/resources/suites"), "**.yaml"));
        return s;
    }

    @ParameterizedTest(name = "round {0}")
    @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")
    void anySuiteLoadsOrIsRefused(int round) {
        ParserFuzz.fuzz(TARGET, round, r -> ParserFuzz.mutate(SEEDS, r), SuiteFuzzTest::parse);
    }

    @Test
    void theCorpusLoadsOrIsRefused() {
        assertTrue(ParserFuzz.replay(TARGET, SuiteFuzzTest::parse) > 0);
    }

    static void parse(byte[] suite) throws IOException {
        Path file = ParserFuzz.scratch(TARGET, "suite.yaml");
        Files.write(file, suite);
        SuiteLoader.parse(file);
    }
}
