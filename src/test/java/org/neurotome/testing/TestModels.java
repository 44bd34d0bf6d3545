package org.neurotome.testing;

import org.neurotome.fixtures.FixtureTokenizerBuilder;
import org.neurotome.fixtures.FixtureVocabulary;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Small real models for end-to-end tests that must not depend on how well the fixtures learned. */
public final class TestModels {
    private TestModels() {
    }

    /**
     * stories260K (vocabulary 512, a real model with no knowledge of arithmetic) with the
     * fixture tokenizer (208 ids, all inside its vocabulary), copied into {@code dir}/model,
     * so text prompts and the eval datasets work on it.
     */
    public static Path storiesWithFixtureTokenizer(Path dir) throws IOException {
        Path model = dir.resolve("model");
        Files.createDirectories(model);
        for (String f : List.of("config.json", "model.safetensors")) {
            Files.copy(Path.of("src/test/resources/reference/stories260K").resolve(f), model.resolve(f));
        }
        new FixtureTokenizerBuilder(FixtureVocabulary.standard()).writeTo(model);
        return model;
    }

    /**
     * Every file of {@code dir} with its SHA-256, read afresh (no cached fingerprint), so a test
     * can show that a directory was left byte for byte unchanged.
     */
    public static java.util.Map<String, String> contentHashes(Path dir) throws IOException {
        java.util.Map<String, String> hashes = new java.util.TreeMap<>();
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                hashes.put(f.getFileName().toString(), org.neurotome.Sha256.hex(f));
            }
        }
        return hashes;
    }

    /**
     * Every file under {@code dir}, subdirectories included, by '/'-separated relative path,
     * with its SHA-256 read afresh: a whole output left byte for byte unchanged compares equal.
     */
    public static java.util.Map<String, String> treeHashes(Path dir) throws IOException {
        java.util.Map<String, String> hashes = new java.util.TreeMap<>();
        try (java.util.stream.Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                hashes.put(dir.relativize(f).toString().replace(java.io.File.separatorChar, '/'),
                        org.neurotome.Sha256.hex(f));
            }
        }
        return hashes;
    }

    /** The names in {@code dir} that start with a dot: what a run left hidden beside its output. */
    public static java.util.List<String> hiddenEntries(Path dir) throws IOException {
        try (java.util.stream.Stream<Path> list = Files.list(dir)) {
            return list.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).sorted().toList();
        }
    }

    /** The id of a process that has ended (a short child, waited for): what a killed run's pid looks like. */
    public static long deadPid() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    /** Copies the files of checkpoint directory {@code from} (a flat folder) into a new folder {@code to}. */
    public static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (java.util.stream.Stream<Path> files = Files.list(from)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }
}
