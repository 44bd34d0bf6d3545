package org.neurotome.archive;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Archives out and in: the writer is reproducible (same bytes whatever the files' times,
 * modes and location) and GNU tar, the independent reference, reads what it writes with
 * the promised metadata; archives made by GNU tar unpack to the same files; the cache unpacks
 * a given content once, under its SHA-256, even when several threads ask at once.
 */
class ArchiveRoundTripTest {
    @TempDir
    Path tmp;

    private AutoCloseable cache;

    @BeforeEach
    void privateCache() {
        cache = ArchiveFixtures.cacheAt(tmp.resolve("cache"));
    }

    @AfterEach
    void restoreCache() throws Exception {
        cache.close();
    }

    @ParameterizedTest
    @EnumSource(ArchiveFormat.class)
    void theSameFilesGiveTheSameBytesWhateverTheirTimesModesAndPlace(ArchiveFormat format) throws Exception {
        Path dir = ArchiveFixtures.sampleDir(tmp.resolve("model"));
        Path first = ArchiveWriter.write(dir, format, tmp.resolve("first" + format.extension()), false);

        Path moved = ArchiveFixtures.sampleDir(tmp.resolve("elsewhere/other-name"));
        try (var files = Files.walk(moved)) {
            for (Path p : files.toList()) {
                Files.setLastModifiedTime(p, FileTime.fromMillis(1_700_000_000_000L));
                if (Files.isRegularFile(p)) {
                    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
                }
            }
        }
        Path second = ArchiveWriter.write(moved, format, tmp.resolve("second" + format.extension()), false);
        assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(second));

        Files.writeString(moved.resolve("config.json"), "{\"model_type\": \"llama\"}\n");
        Path third = ArchiveWriter.write(moved, format, tmp.resolve("third" + format.extension()), false);
        assertNotEquals(org.neurotome.Sha256.hex(first), org.neurotome.Sha256.hex(third), "a changed file changes the archive");
    }

    @ParameterizedTest
    @EnumSource(ArchiveFormat.class)
    void gnuTarReadsTheArchiveWithFixedMetadataAndTheSameFiles(ArchiveFormat format) throws Exception {
        Path dir = ArchiveFixtures.sampleDir(tmp.resolve("model"));
        Path archive = ArchiveWriter.write(dir, format, tmp.resolve("model" + format.extension()), false);
        // decompress with the JDK's gzip and zstd-jni's own stream, not with the code under test
        Path plain = tmp.resolve("plain.tar");
        try (InputStream in = switch (format) {
            case TAR -> Files.newInputStream(archive);
            case TAR_GZ -> new GZIPInputStream(Files.newInputStream(archive));
            case TAR_ZST -> new com.github.luben.zstd.ZstdInputStream(Files.newInputStream(archive));
        }) {
            Files.copy(in, plain);
        }
        List<String> listing = run(tmp, "tar", "--utc", "-tvf", plain.toString());
        List<String> names = new ArrayList<>();
        for (String line : listing) {
            assertTrue(line.contains(" 0/0 "), "owner and group 0, no names: " + line);
            assertTrue(line.contains(" 1970-01-01 00:00 "), "mtime 0: " + line);
            assertTrue(line.startsWith(line.endsWith("/") ? "drwxr-xr-x" : "-rw-r--r--"), "mode: " + line);
            names.add(line.substring(line.indexOf(" 00:00 ") + 7));
        }
        assertEquals(List.of("config.json", "eval/", "eval/report.json", "model.safetensors", "n".repeat(120) + ".json"),
                names, "sorted, folders before their files, no hidden files");

        Path out = Files.createDirectories(tmp.resolve("extracted"));
        run(tmp, "tar", "-xf", plain.toString(), "-C", out.toString());
        assertEquals(ArchiveFixtures.contents(dir), ArchiveFixtures.contents(out));

        Path unpacked = ArchiveCache.directoryOf(archive);
        assertEquals(ArchiveFixtures.contents(dir), ArchiveFixtures.contents(unpacked));
        assertTrue(unpacked.startsWith(ArchiveCache.root()));
    }

    @Test
    void archivesMadeByGnuTarUnpackWithOrWithoutATopFolder() throws Exception {
        Path dir = ArchiveFixtures.sampleDir(tmp.resolve("model"));
        Files.delete(dir.resolve(".partial-leftover"));
        Path folder = tmp.resolve("folder.tar.gz");
        run(tmp, "tar", "-czf", folder.toString(), "-C", tmp.toString(), "model");
        Path dotted = tmp.resolve("dotted.tar");
        run(tmp, "tar", "-cf", dotted.toString(), "-C", dir.toString(), ".");

        Path a = ArchiveCache.directoryOf(folder);
        assertEquals("model", a.getFileName().toString(), "the one top folder is the checkpoint");
        assertEquals(ArchiveFixtures.contents(dir), ArchiveFixtures.contents(a));
        Path b = ArchiveCache.directoryOf(dotted);
        assertTrue(Files.isRegularFile(b.resolve("config.json")), "./ entries sit at the top");
        assertEquals(ArchiveFixtures.contents(dir), ArchiveFixtures.contents(b));
        assertEquals(PosixFilePermissions.fromString("r--r--r--"), Files.getPosixFilePermissions(b.resolve("config.json")),
                "unpacked files are read-only");
    }

    @Test
    void theCacheIsKeyedByContentAndReusedAfterACopyOrATouch() throws Exception {
        Path dir = ArchiveFixtures.sampleDir(tmp.resolve("model"));
        Path archive = ArchiveWriter.write(dir, ArchiveFormat.TAR_ZST, tmp.resolve("m.tar.zst"), false);
        Path first = ArchiveCache.directoryOf(archive);
        assertEquals(org.neurotome.Sha256.hex(archive), first.getFileName().toString());
        assertEquals(first, ArchiveCache.directoryOf(archive), "the second use finds the first");

        Path copy = Files.copy(archive, tmp.resolve("copy.tar.zst"));
        Files.setLastModifiedTime(copy, FileTime.fromMillis(42));
        assertEquals(first, ArchiveCache.directoryOf(copy), "the same bytes elsewhere: the same cache entry");
        try (ArchiveCache.Unpacked fresh = ArchiveCache.unpackedAfresh(archive)) {
            assertFalse(fresh.dir().equals(first), "verify's copy is unpacked afresh");
            assertEquals(ArchiveFixtures.contents(first), ArchiveFixtures.contents(fresh.dir()));
        }
        assertEquals(first, ArchiveCache.directoryOf(archive), "and dropped, since the entry is sound");
        long unpacked = ArchiveFixtures.cacheEntries().stream().filter(e -> e.matches("[0-9a-f]{64}")).count();
        assertEquals(1, unpacked, ArchiveFixtures.cacheEntries().toString());
    }

    /**
     * Two first uses that both find no entry each unpack the archive and install it; the second
     * install must not take the first's sound entry for a changed one and move it aside while the
     * first still reads it. One race is rarely lost, so it is run many times (each in a fresh cache).
     */
    @Test
    void racingFirstUsesNeverSeeTheEntryMovedAside() throws Exception {
        Path dir = ArchiveFixtures.sampleDir(tmp.resolve("model"));
        Path archive = ArchiveWriter.write(dir, ArchiveFormat.TAR, tmp.resolve("m.tar"), false);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (int round = 0; round < 60; round++) {
                try (AutoCloseable fresh = ArchiveFixtures.cacheAt(tmp.resolve("cache-" + round))) {
                    CountDownLatch start = new CountDownLatch(1);
                    List<Future<Path>> results = new ArrayList<>();
                    for (int i = 0; i < 4; i++) {
                        results.add(pool.submit(() -> {
                            start.await();
                            return ArchiveCache.directoryOf(archive);
                        }));
                    }
                    start.countDown();
                    for (Future<Path> r : results) {
                        assertEquals(results.getFirst().get(), r.get(), "round " + round);
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void concurrentUsersOfOneArchiveShareOneCompleteCopy() throws Exception {
        Path dir = ArchiveFixtures.sampleDir(tmp.resolve("model"));
        Path archive = ArchiveWriter.write(dir, ArchiveFormat.TAR_GZ, tmp.resolve("m.tar.gz"), false);
        Files.createDirectories(ArchiveCache.root());
        Path abandoned = Files.createDirectory(ArchiveCache.root().resolve(".0123.partial-" + Integer.MAX_VALUE + "-1"));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Path>> results = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                results.add(pool.submit(() -> ArchiveCache.directoryOf(archive)));
            }
            Path dirOf = results.getFirst().get();
            for (Future<Path> r : results) {
                assertEquals(dirOf, r.get());
            }
            assertEquals(ArchiveFixtures.contents(dir), ArchiveFixtures.contents(dirOf));
        } finally {
            pool.shutdownNow();
        }
        assertFalse(Files.exists(abandoned), "a partial of a dead process is removed");
        assertTrue(ArchiveFixtures.cacheEntries().stream().noneMatch(e -> e.contains(".partial-")),
                "no partial copy is left: " + ArchiveFixtures.cacheEntries());
    }

    @Test
    void writingRefusesToReplaceWithoutForceAndInsideTheDirectory() throws Exception {
        Path dir = ArchiveFixtures.sampleDir(tmp.resolve("model"));
        Path target = ArchiveWriter.write(dir, ArchiveFormat.TAR, tmp.resolve("m.tar"), false);
        NeurotomeException e = assertThrows(NeurotomeException.class,
                () -> ArchiveWriter.write(dir, ArchiveFormat.TAR, target, false));
        assertEquals(ExitCode.OUTPUT_FAILED, e.exitCode());
        assertEquals(target, ArchiveWriter.write(dir, ArchiveFormat.TAR, target, true));
        assertEquals(ExitCode.BAD_INPUT, assertThrows(NeurotomeException.class,
                () -> ArchiveWriter.write(dir, ArchiveFormat.TAR, dir.resolve("self.tar"), true)).exitCode());
        try (var list = Files.list(tmp)) {
            assertTrue(list.noneMatch(p -> p.getFileName().toString().contains(".partial-")), "no partial archive left");
        }
    }

    @Test
    void formatsAreNamedByExtension() {
        assertEquals(ArchiveFormat.TAR_GZ, ArchiveFormat.of(Path.of("a/model.tar.gz")).orElseThrow());
        assertEquals(ArchiveFormat.TAR_ZST, ArchiveFormat.of(Path.of("MODEL.TAR.ZST")).orElseThrow());
        assertEquals(ArchiveFormat.TAR, ArchiveFormat.of(Path.of("m.tar")).orElseThrow());
        assertTrue(ArchiveFormat.of(Path.of("checkpoints/fixture-gpt2")).isEmpty());
        assertTrue(ArchiveFormat.of(Path.of(".tar")).isEmpty());
        assertEquals(tmp.resolve("out.tar.zst"), ArchiveFormat.TAR_ZST.besides(tmp.resolve("out")));
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> ArchiveFormat.parse("zip"));
        assertEquals("unknown archive format 'zip'; allowed: tar, tar.gz, tar.zst", e.getMessage());
    }

    /** Runs a command in {@code dir}; its stdout lines. */
    static List<String> run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
        return out.isEmpty() ? List.of() : List.of(out.split("\n"));
    }
}
