package org.neurotome.fuzz;

import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.FileTree;
import org.neurotome.NeurotomeException;
import org.neurotome.archive.ArchiveCache;
import org.neurotome.archive.ArchiveFormat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reading a checkpoint archive ({@link ArchiveCache#directoryOf}: the format check, the
 * streaming decompression, every entry's checks, the unpack into the cache) on mutated
 * archives: a tar of folders, files, a long name, a symbolic and a hard link, mutated as a
 * tar and then compressed (so the tar reader meets damage behind a sound gzip or zstd
 * stream), or compressed and then mutated (so the decompressors meet it). Besides the
 * harness's property, a refusal must leave nothing in the cache. zstd decodes in native code
 * (zstd-jni): an abort there would end the test JVM, which is how this target would report it.
 *
 * <p>An input is one byte choosing the format (its value mod 3: tar, tar.gz, tar.zst) and
 * then the archive's bytes; the corpus ({@code src/test/resources/fuzz/archive/}) holds the
 * seed. Harness: {@link ParserFuzz}.
 */
class ArchiveFuzzTest {
    static final String TARGET = "archive";
    private static final byte[] SEED = tarOf(ParserFuzz.seeds(Path.of("src/test/resources/fuzz", TARGET), "seed-tar")
            .getFirst());
    /** Inputs read; the cache is emptied every {@link #WIPE_EVERY} of them. */
    private static int run;
    private static final int WIPE_EVERY = 250;

    @ParameterizedTest(name = "round {0}")
    @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")
    void anyArchiveUnpacksOrIsRefused(int round) {
        ParserFuzz.fuzz(TARGET, round, ArchiveFuzzTest::mutateArchive, ArchiveFuzzTest::read);
    }

    @Test
    void theCorpusUnpacksOrIsRefused() {
        assertTrue(ParserFuzz.replay(TARGET, ArchiveFuzzTest::read) > 0);
    }

    static void read(byte[] input) throws IOException {
        ArchiveFormat format = ArchiveFormat.values()[input.length == 0 ? 0 : Byte.toUnsignedInt(input[0]) % 3];
        Path archive;
        Path cache;
        synchronized (ArchiveFuzzTest.class) {
            cache = ParserFuzz.scratch(TARGET, "cache");
            if (run++ % WIPE_EVERY == 0) {
                FileTree.delete(cache); // unpacked archives pile up otherwise; wiping each time is slow
            }
            archive = ParserFuzz.scratch(TARGET, "in-" + run + format.extension());
        }
        Files.write(archive, input.length == 0 ? input : Arrays.copyOfRange(input, 1, input.length));
        String before = System.getProperty(ArchiveCache.DIR_PROPERTY);
        System.setProperty(ArchiveCache.DIR_PROPERTY, cache.toString());
        List<Path> had = entries(ArchiveCache.root());
        try {
            ArchiveCache.directoryOf(archive);
        } catch (NeurotomeException e) {
            List<Path> left = new java.util.ArrayList<>(entries(ArchiveCache.root()));
            left.removeAll(had);
            if (!left.isEmpty()) {
                throw new AssertionError("a refused archive left " + left + " in the cache (" + e.getMessage() + ")");
            }
            throw e;
        } finally {
            if (before == null) {
                System.clearProperty(ArchiveCache.DIR_PROPERTY);
            } else {
                System.setProperty(ArchiveCache.DIR_PROPERTY, before);
            }
            Files.deleteIfExists(archive);
        }
    }

    /** What the cache holds: its top level (unpacked archives, partial ones) and its stamps. */
    private static List<Path> entries(Path root) throws IOException {
        List<Path> all = new java.util.ArrayList<>();
        for (Path dir : List.of(root, root.resolve("stamps"))) {
            if (Files.isDirectory(dir)) {
                try (Stream<Path> list = Files.list(dir)) {
                    list.forEach(all::add);
                }
            }
        }
        return all;
    }

    /** The seed's tar, mutated before or after compressing it in a random format. */
    private static byte[] mutateArchive(Random r) {
        int format = r.nextInt(3);
        boolean inner = r.nextBoolean();
        byte[] tar = inner ? ParserFuzz.mutate(List.of(SEED), r) : SEED;
        byte[] archive = compress(tar, ArchiveFormat.values()[format]);
        if (!inner || format == 0) {
            archive = ParserFuzz.mutate(List.of(archive), r);
        }
        return ParserFuzz.concat(new byte[] {(byte) (format + 3 * r.nextInt(80))}, archive);
    }

    private static byte[] compress(byte[] tar, ArchiveFormat format) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            try (OutputStream out = switch (format) {
                case TAR -> bytes;
                case TAR_GZ -> new GzipCompressorOutputStream(bytes);
                case TAR_ZST -> ZstdCompressorOutputStream.builder().setOutputStream(bytes).get();
            }) {
                out.write(tar);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static byte[] tarOf(byte[] corpusInput) {
        return Arrays.copyOfRange(corpusInput, 1, corpusInput.length);
    }
}
