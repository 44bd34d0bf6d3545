package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EvalCaseFileTest {

    @Test
    void writesOneObjectPerLineAndReadsItBack(@TempDir Path tmp) throws IOException {
        EvalCase c = new EvalCase("3+5=", "8", new EvalCase.Labels().put("operation", "+").put("n1", 3).build());
        Path file = tmp.resolve("sub/cases.jsonl");
        EvalCaseFile.write(file, List.of(c, c));
        String line = "{\"prompt\":\"3+5=\",\"target\":\"8\",\"labels\":{\"operation\":\"+\",\"n1\":3}}\n";
        assertEquals(line + line, Files.readString(file));
        assertEquals(List.of(c, c), EvalCaseFile.read(file));
    }

    @Test
    void badLinesAreRejectedWithFileAndLine(@TempDir Path tmp) throws IOException {
        String good = "{\"prompt\":\"3+5=\",\"target\":\"8\",\"labels\":{}}";
        assertBad(tmp, good + "\n{\"prompt\":\"a\"", ":2: not valid JSON");
        assertBad(tmp, "{\"prompt\":\"3+5=\",\"labels\":{}}", ":1: field 'target' must be a string");
        assertBad(tmp, good + "\n\n{\"prompt\":\"a\",\"target\":\"b\",\"labels\":{},\"x\":1}",
                ":3: unknown field 'x'; allowed: prompt, target, labels");
        assertBad(tmp, "{\"prompt\":\"a\",\"target\":\"b\",\"labels\":{\"n1\":1.5}}",
                ":1: label 'n1' is 1.5; allowed: a string or a 32-bit integer");
        assertBad(tmp, "{\"prompt\":\"a \",\"target\":\"b\",\"labels\":{}}",
                ":1: prompt must be non-empty and not end in whitespace: 'a '");
        assertBad(tmp, "[1]", ":1: expected a JSON object");
    }

    private static void assertBad(Path tmp, String content, String messageAfterFile) throws IOException {
        Path file = tmp.resolve("bad.jsonl");
        Files.writeString(file, content);
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> EvalCaseFile.read(file));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().startsWith(file + messageAfterFile), e.getMessage());
    }
}
