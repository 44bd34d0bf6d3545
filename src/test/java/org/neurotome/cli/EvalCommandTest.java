package org.neurotome.cli;

import org.neurotome.testing.TestModels;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neurotome eval} end to end on a small real model: the report is written, a gate the
 * model cannot meet fails with exit 1, and gates against the model itself as baseline pass.
 */
class EvalCommandTest {
    @TempDir
    Path tmp;


    private Path model() throws IOException {
        return TestModels.storiesWithFixtureTokenizer(tmp);
    }

    private Path suite(String gates) throws IOException {
        Path datasets = Path.of("eval/datasets").toAbsolutePath();
        Path file = tmp.resolve("suite.yaml");
        Files.writeString(file, """
                name: test
                tasks:
                  - kind: arithmetic
                    dataset: %s/arithmetic.jsonl
                    where: {template: 3}
                  - kind: gender
                    dataset: %s/gender.jsonl
                gates:
                %s
                """.formatted(datasets, datasets, gates));
        return file;
    }

    @Test
    void gatesDecideTheExitCodeAndTheReportIsWritten() throws Exception {
        Path model = model();
        Path out = tmp.resolve("report");
        int code = Main.execute("eval", model.toString(), "--suite", suite("  - arithmetic.accuracy >= 0.9").toString(),
                "--out", out.toString(), "--limit", "8", "--device", "cpu");
        assertEquals(1, code, "an untrained story model cannot do arithmetic");
        JsonNode report = Json.MAPPER.readTree(out.resolve("report.json").toFile());
        assertFalse(report.get("gates").get(0).get("passed").asBoolean());
        assertTrue(report.get("metrics").has("gender.bias_gap"));
        assertTrue(Files.readString(out.resolve("report.html")).contains("<svg"));

        Path out2 = tmp.resolve("report2");
        code = Main.execute("eval", model.toString(), "--suite",
                suite("  - arithmetic.accuracy.delta >= 0\n  - gender.bias_gap.delta <= 0\n  - arithmetic.accuracy not_worse").toString(),
                "--baseline", model.toString(), "--out", out2.toString(), "--limit", "8", "--device", "cpu");
        assertEquals(0, code, "a model judged against itself changes nothing");
        JsonNode r2 = Json.MAPPER.readTree(out2.resolve("report.json").toFile());
        assertEquals(r2.get("metrics").get("gender.bias_gap").asDouble(), r2.get("baseline_metrics").get("gender.bias_gap").asDouble(), 0.0);
    }

    @Test
    void aMissingSuiteIsBadInput() {
        assertEquals(2, Main.execute("eval", "src/test/resources/reference/stories260K", "--suite", tmp.resolve("none.yaml").toString()));
    }

    @Test
    void aCaseLongerThanTheModelsPositionsIsNamedBySuiteDataSetAndLine() throws Exception {
        Path data = tmp.resolve("long.jsonl");
        Files.writeString(data, """
                {"prompt":"The farmer","target":" sold the lamp.","labels":{"kind":"language"}}
                {"prompt":"The blanket","target":"%s","labels":{"kind":"language"}}
                """.formatted(" was clean and the farmer sold the lamp behind the bridge.".repeat(4)));
        Path suite = tmp.resolve("long.yaml");
        Files.writeString(suite, """
                name: long
                tasks:
                  - kind: language
                    dataset: %s
                gates:
                  - language.perplexity <= 1000
                """.formatted(data));
        CliRun run = CliRun.of("eval", "checkpoints/fixture-gpt2", "--suite", suite.toString(), "--out",
                tmp.resolve("report").toString());
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().startsWith("error: " + data + ":2: case 'The blanket' of task 'language' in suite 'long' "
                + "(candidate): a sequence of "), run.err());
        assertTrue(run.err().endsWith(" tokens is longer than the model's 32 learned positions\n"), run.err());
    }
}
