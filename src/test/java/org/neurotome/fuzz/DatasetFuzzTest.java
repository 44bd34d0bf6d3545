package org.neurotome.fuzz;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.eval.DatasetReader;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.eval.TaskKind;
import org.neurotome.eval.TaskSpec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JSONL data set readers — {@link EvalCaseFile#read} and {@link DatasetReader#read} for
 * every task kind — on mutated slices of the shipped data sets and the test ones. Harness:
 * {@link ParserFuzz}.
 */
class DatasetFuzzTest {
    static final String TARGET = "dataset";
    private static final List<byte[]> SEEDS = seeds();

    /** Runs of 12 lines from every data set, so that mutations meet paired and labelled cases alike. */
    private static List<byte[]> seeds() {
        List<byte[]> files = new ArrayList<>(ParserFuzz.seeds(Path.of("eval/datasets"), "*.jsonl"));
        files.addAll(ParserFuzz.seeds(Path.of("src/test/resources/datasets"), "*.jsonl"));
        List<byte[]> slices = new ArrayList<>();
        for (byte[] f : files) {
            List<String> lines = new String(f, StandardCharsets.UTF_8).lines().toList();
            for (int i = 0; i < lines.size(); i += Math.max(12, lines.size() / 8)) {
                slices.add((String.join("\n", lines.subList(i, Math.min(lines.size(), i + 12))) + "\n")
                        .getBytes(StandardCharsets.UTF_8));
            }
        }
        return slices;
    }

    @ParameterizedTest(name = "round {0}")
    @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")
    void anyDataSetReadsOrIsRefused(int round) {
        ParserFuzz.fuzz(TARGET, round, r -> ParserFuzz.mutate(SEEDS, r), DatasetFuzzTest::read);
    }

    @Test
    void theCorpusReadsOrIsRefused() {
        assertTrue(ParserFuzz.replay(TARGET, DatasetFuzzTest::read) > 0);
    }

    static void read(byte[] data) throws IOException {
        Path file = ParserFuzz.scratch(TARGET, "cases.jsonl");
        Files.write(file, data);
        EvalCaseFile.read(file);
        for (TaskKind kind : TaskKind.values()) {
            try {
                DatasetReader.read(TaskSpec.of(kind, file));
            } catch (org.neurotome.NeurotomeException refused) {
                // each kind refuses what it cannot score; the next kind reads the same bytes
            }
        }
    }
}
