package org.neurotome.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class DatasetsCommandTest {
    private static final List<String> FILES = List.of("arithmetic.jsonl", "gender.jsonl", "pronoun.jsonl",
            "factual.jsonl", "language.jsonl");

    @Test
    void writesTheFiveSetsAndRewritesThemIdenticallyForTheSameSeed(@TempDir Path tmp) throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        assertEquals(0, Main.execute("datasets", "--out", a.toString(), "--seed", "7"));
        assertEquals(0, Main.execute("datasets", "--out", b.toString(), "--seed", "7"));
        assertEquals(0, Main.execute("datasets", "--out", b.toString(), "--seed", "7"));
        for (String f : FILES) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
        assertEquals(FILES.size(), Files.list(b).count());
        Path c = tmp.resolve("c");
        assertEquals(0, Main.execute("datasets", "--out", c.toString(), "--seed", "8"));
        assertNotEquals(-1L, Files.mismatch(a.resolve("arithmetic.jsonl"), c.resolve("arithmetic.jsonl")));
    }

    @Test
    void aSeedThatIsNotANumberIsBadInput(@TempDir Path tmp) {
        assertEquals(2, Main.execute("datasets", "--out", tmp.toString(), "--seed", "seven"));
    }

    @Test
    void anOutputPathThatIsAFileIsAnOutputFailure(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("taken"), "x");
        assertEquals(4, Main.execute("datasets", "--out", file.toString()));
    }
}
