package org.neurotome.archive;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.neurotome.FileTree;
import org.neurotome.NeurotomeException;
import org.neurotome.archive.ArchiveFixtures.Entry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The archive reader on arbitrary input: random bytes, and valid archives of every format
 * with bytes flipped, cut off or inserted. Whatever the bytes, reading them ends in a
 * directory or in a {@link NeurotomeException} with an exit code — never another exception,
 * a hang or a JVM abort (zstd runs native code) — and a refusal leaves nothing in the cache.
 */
class ArchiveFuzzTest {
    private static final Path ROOT = tempDir();
    private static final List<byte[]> VALID = validArchives();

    private static Path tempDir() {
        try {
            Path dir = Files.createTempDirectory("neurotome-archive-fuzz");
            dir.toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A small checkpoint-shaped archive in each format: the seeds the mutations start from. */
    private static List<byte[]> validArchives() {
        try {
            byte[] tar = ArchiveFixtures.tar(List.of(Entry.file("config.json", "{\"model_type\": \"gpt2\"}"),
                    Entry.dir("eval"), Entry.file("eval/report.json", "{}"), Entry.file("model.safetensors", new byte[3000]),
                    Entry.symlink("weights", "model.safetensors")));
            return Arrays.stream(ArchiveFormat.values()).map(f -> {
                try {
                    return ArchiveFixtures.compress(tar, f);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An archive's bytes and the format its name claims. */
    record Sample(byte[] bytes, ArchiveFormat format) {
        @Override
        public String toString() {
            return format.id() + " of " + bytes.length + " bytes";
        }
    }

    @Provide
    Arbitrary<Sample> randomBytes() {
        return Combinators.combine(Arbitraries.bytes().array(byte[].class).ofMaxSize(4096),
                Arbitraries.of(ArchiveFormat.class)).as(Sample::new);
    }

    @Provide
    Arbitrary<Sample> damagedArchives() {
        Arbitrary<Integer> which = Arbitraries.integers().between(0, ArchiveFormat.values().length - 1);
        Arbitrary<Integer> kind = Arbitraries.integers().between(0, 2);
        Arbitrary<Integer> position = Arbitraries.integers().between(0, Integer.MAX_VALUE);
        Arbitrary<byte[]> noise = Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(64);
        return Combinators.combine(which, kind, position, noise).as((w, k, p, n) -> {
            byte[] valid = VALID.get(w);
            int at = p % valid.length;
            byte[] damaged = switch (k) {
                case 0 -> { // overwrite
                    byte[] b = valid.clone();
                    for (int i = 0; i < n.length && at + i < b.length; i++) {
                        b[at + i] ^= (byte) (n[i] == 0 ? 1 : n[i]);
                    }
                    yield b;
                }
                case 1 -> Arrays.copyOf(valid, at); // cut off
                default -> { // insert
                    byte[] b = new byte[valid.length + n.length];
                    System.arraycopy(valid, 0, b, 0, at);
                    System.arraycopy(n, 0, b, at, n.length);
                    System.arraycopy(valid, at, b, at + n.length, valid.length - at);
                    yield b;
                }
            };
            return new Sample(damaged, ArchiveFormat.values()[w]);
        });
    }

    @Property(tries = 150)
    void randomBytesEndInADirectoryOrACheckpointError(@ForAll("randomBytes") Sample sample) throws Exception {
        readEndsCleanly(sample);
    }

    @Property(tries = 300)
    void damagedArchivesEndInADirectoryOrACheckpointError(@ForAll("damagedArchives") Sample sample) throws Exception {
        readEndsCleanly(sample);
    }

    private static void readEndsCleanly(Sample sample) throws Exception {
        Path cacheDir = Files.createTempDirectory(ROOT, "cache");
        Path archive = Files.createTempDirectory(ROOT, "in").resolve("sample" + sample.format().extension());
        Files.write(archive, sample.bytes());
        try (AutoCloseable ignored = ArchiveFixtures.cacheAt(cacheDir)) {
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                try {
                    assertNotNull(ArchiveCache.directoryOf(archive));
                } catch (NeurotomeException e) {
                    assertTrue(e.exitCode().code() > 1, e.getMessage());
                    assertTrue(e.getMessage().startsWith(archive.toString()), e.getMessage());
                    assertEquals(List.of(), ArchiveFixtures.cacheEntries(), "a refusal leaves nothing in the cache");
                }
            });
        } finally {
            FileTree.delete(cacheDir);
            FileTree.delete(archive.getParent());
        }
    }
}
