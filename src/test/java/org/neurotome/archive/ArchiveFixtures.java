package org.neurotome.archive;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Archives for tests, built entry by entry with commons-compress so that hostile ones (absolute
 * names, links out, devices, duplicates) can be made as an attacker would, plus a cache folder
 * of their own for each test.
 */
final class ArchiveFixtures {
    private ArchiveFixtures() {
    }

    /** One tar entry: a name, a type flag, a link target and the data. */
    record Entry(String name, byte flag, String link, byte[] data) {
        static Entry file(String name, String text) {
            return new Entry(name, TarConstants.LF_NORMAL, null, text.getBytes(StandardCharsets.UTF_8));
        }

        static Entry file(String name, byte[] data) {
            return new Entry(name, TarConstants.LF_NORMAL, null, data);
        }

        static Entry dir(String name) {
            return new Entry(name, TarConstants.LF_DIR, null, new byte[0]);
        }

        static Entry symlink(String name, String target) {
            return new Entry(name, TarConstants.LF_SYMLINK, target, new byte[0]);
        }

        static Entry hardLink(String name, String target) {
            return new Entry(name, TarConstants.LF_LINK, target, new byte[0]);
        }

        static Entry special(String name, byte flag) {
            return new Entry(name, flag, null, new byte[0]);
        }
    }

    /** An uncompressed tar of {@code entries}, names kept exactly as given (absolute ones too). */
    static byte[] tar(List<Entry> entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Entry e : entries) {
                TarArchiveEntry t = new TarArchiveEntry(e.name(), e.flag(), true);
                if (e.link() != null) {
                    t.setLinkName(e.link());
                }
                t.setSize(e.data().length);
                t.setModTime(0);
                tar.putArchiveEntry(t);
                tar.write(e.data());
                tar.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** {@code tar} compressed as {@code format} says. */
    static byte[] compress(byte[] tar, ArchiveFormat format) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = format.compress(bytes)) {
            out.write(tar);
        }
        return bytes.toByteArray();
    }

    /** Writes {@code entries} as {@code dir/name} in {@code format}. */
    static Path archive(Path dir, String name, ArchiveFormat format, List<Entry> entries) throws IOException {
        Path file = dir.resolve(name);
        Files.write(file, compress(tar(entries), format));
        return file;
    }

    /** A small checkpoint-like folder: config, weights, a subfolder, a long name, and a hidden file. */
    static Path sampleDir(Path dir) throws IOException {
        Files.createDirectories(dir.resolve("eval"));
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\"}\n");
        byte[] weights = new byte[300_000];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (byte) (i * 31 + i / 977);
        }
        Files.write(dir.resolve("model.safetensors"), weights);
        Files.writeString(dir.resolve("eval/report.json"), "{\"passed\": true}\n");
        Files.writeString(dir.resolve("n".repeat(120) + ".json"), "{}\n");
        Files.writeString(dir.resolve(".partial-leftover"), "not archived\n");
        return dir;
    }

    /** What a folder holds, hidden files left out: relative path → content, sorted. */
    static java.util.Map<String, String> contents(Path dir) throws IOException {
        java.util.Map<String, String> m = new java.util.TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                String rel = dir.relativize(p).toString();
                if (!rel.startsWith(".")) {
                    m.put(rel, org.neurotome.Sha256.hex(p));
                }
            }
        }
        return m;
    }

    /** Everything in the cache folder: finished archives, partials, stamps. */
    static List<String> cacheEntries() throws IOException {
        Path root = ArchiveCache.root();
        if (!Files.exists(root)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(p -> !p.equals(root)).map(p -> root.relativize(p).toString()).sorted().toList();
        }
    }

    /** Points the archive cache at {@code dir} until closed (tests never touch the user's cache). */
    static AutoCloseable cacheAt(Path dir) {
        String before = System.getProperty(ArchiveCache.DIR_PROPERTY);
        System.setProperty(ArchiveCache.DIR_PROPERTY, dir.toString());
        return () -> {
            if (before == null) {
                System.clearProperty(ArchiveCache.DIR_PROPERTY);
            } else {
                System.setProperty(ArchiveCache.DIR_PROPERTY, before);
            }
        };
    }
}
