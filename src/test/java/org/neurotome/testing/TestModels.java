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
}
