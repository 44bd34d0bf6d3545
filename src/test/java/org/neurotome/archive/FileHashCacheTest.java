package org.neurotome.archive;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Sha256;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The SHA-256 of checkpoint files, remembered by the cache's stamps while a file is unchanged. */
class FileHashCacheTest {
    private static final String PLANTED = "0".repeat(64);

    @TempDir
    Path tmp;
    private AutoCloseable cache;

    @BeforeEach
    void isolateCache() {
        cache = ArchiveFixtures.cacheAt(tmp.resolve("cache"));
    }

    @AfterEach
    void restoreCache() throws Exception {
        cache.close();
    }

    @Test
    void anUnchangedFileIsNotReadAgainAndAChangedOneIs() throws IOException {
        Path a = Files.write(tmp.resolve("a.safetensors"), new byte[] {1, 2, 3, 4});
        Path b = Files.write(tmp.resolve("b.json"), "{}".getBytes());
        assertEquals(List.of(Sha256.hex(a), Sha256.hex(b)), ArchiveCache.sha256(List.of(a, b)));

        // every recorded hash replaced: what comes back for an unchanged file is the record, not a fresh read
        List<Path> records;
        try (Stream<Path> s = Files.list(ArchiveCache.root().resolve("stamps"))) {
            records = s.toList();
        }
        assertEquals(2, records.size(), records.toString());
        for (Path r : records) {
            Files.writeString(r, PLANTED + "\n");
        }
        assertEquals(List.of(PLANTED, PLANTED), ArchiveCache.sha256(List.of(a, b)));

        // same size, new content and modification time: hashed again
        FileTime before = Files.getLastModifiedTime(a);
        Files.write(a, new byte[] {4, 3, 2, 1});
        Files.setLastModifiedTime(a, FileTime.fromMillis(before.toMillis() + 2000));
        assertEquals(List.of(Sha256.hex(a), PLANTED), ArchiveCache.sha256(List.of(a, b)));
    }

    @Test
    void withoutAWritableCacheEveryFileIsHashed() throws Exception {
        Path blocked = Files.writeString(tmp.resolve("not-a-folder"), "a file where the cache would be");
        try (AutoCloseable c = ArchiveFixtures.cacheAt(blocked)) {
            Path a = Files.write(tmp.resolve("a.safetensors"), new byte[] {9, 9});
            assertEquals(List.of(Sha256.hex(a)), ArchiveCache.sha256(List.of(a)));
            assertEquals(List.of(Sha256.hex(a)), ArchiveCache.sha256(List.of(a)));
        }
    }
}
