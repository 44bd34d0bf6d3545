package org.neurotome.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Sha256;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** The checkpoint fingerprint: sha256sum's lines hashed, recomputed whenever a file changes. */
class ManifestFingerprintTest {
    @TempDir
    Path dir;

    @Test
    void fingerprintIsTheHashOfTheSha256sumLinesAndFollowsChanges() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"a\": 1}");
        Files.write(dir.resolve("model.safetensors"), new byte[] {1, 2, 3});
        Files.writeString(dir.resolve("README.md"), "not hashed");
        String lines = Sha256.hex(dir.resolve("config.json")) + "  config.json\n"
                + Sha256.hex(dir.resolve("model.safetensors")) + "  model.safetensors\n";
        String first = Manifest.fingerprint(dir);
        assertEquals(Sha256.hex(lines.getBytes(StandardCharsets.UTF_8)), first);
        assertEquals(first, Manifest.fingerprint(dir), "unchanged files, same fingerprint");

        Files.writeString(dir.resolve("config.json"), "{\"a\": 12}");
        assertNotEquals(first, Manifest.fingerprint(dir), "a changed file changes it");
    }
}
