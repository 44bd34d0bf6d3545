package org.neurotome;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Files hashed together on several threads give each file's own hash, in the order asked. */
class Sha256Test {
    @TempDir
    Path dir;

    @Test
    void hashesOfManyFilesComeBackInTheirOrder() throws IOException {
        Random random = new Random(7);
        List<Path> files = new ArrayList<>();
        List<String> one = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            // sizes out of order, so that hashing the largest first reorders the work
            byte[] bytes = new byte[(i * 37 % 9) * 300_000 + i];
            random.nextBytes(bytes);
            Path f = dir.resolve("f" + i);
            Files.write(f, bytes);
            files.add(f);
            one.add(Sha256.hex(bytes));
        }
        assertEquals(one, Sha256.hexAll(files));
        assertEquals(List.of(), Sha256.hexAll(List.of()));
    }

    @Test
    void aMissingFileIsAnIoError() throws IOException {
        Path a = dir.resolve("a");
        Files.write(a, new byte[] {1});
        assertThrows(NoSuchFileException.class, () -> Sha256.hexAll(List.of(a, dir.resolve("missing"))));
    }
}
