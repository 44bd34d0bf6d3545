package org.neurotome.fuzz;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
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



    @Property
    void anySuiteLoadsOrIsRefused(@ForAll("suites") byte[] suite) {
        ParserFuzz.check(TARGET, suite, SuiteFuzzTest::parse);
    }

    @Test
    void theCorpusLoadsOrIsRefused() {
        assertTrue(ParserFuzz.replay(TARGET, SuiteFuzzTest::parse) > 0);
    }

    @Provide
    Arbitrary<byte[]> suites() {
        return ParserFuzz.mutated(SEEDS);
    }

    static void parse(byte[] suite) throws IOException {
        Path file = ParserFuzz.scratch(TARGET, "suite.yaml");
        Files.write(file, suite);
        SuiteLoader.parse(file);
    }
}
