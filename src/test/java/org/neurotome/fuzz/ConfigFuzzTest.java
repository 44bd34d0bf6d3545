package org.neurotome.fuzz;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.NeuronLayout;
import org.neurotome.checkpoint.Checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reading {@code config.json} — {@link Checkpoint#open}, {@link ModelConfig#from(Checkpoint)},
 * the family's tensor validation and head/neuron layouts — on mutated configs of every
 * reference family and the fixtures, beside a small GPT-2 checkpoint. Harness: {@link ParserFuzz}.
 */
class ConfigFuzzTest {
    static final String TARGET = "config";
    private static final List<byte[]> SEEDS = seeds();

    private static List<byte[]> seeds() {
        List<byte[]> s = new java.util.ArrayList<>(ParserFuzz.seeds(Path.of("src/test/resources/reference"),
                "*/config.json"));
        s.addAll(ParserFuzz.seeds(Path.of("checkpoints"), "fixture-*/config.json"));
        return s;
    }

    @ParameterizedTest(name = "round {0}")
    @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")
    void anyConfigReadsOrIsRefused(int round) {
        ParserFuzz.fuzz(TARGET, round, r -> ParserFuzz.mutate(SEEDS, r), ConfigFuzzTest::read);
    }

    @Test
    void theCorpusReadsOrIsRefused() {
        assertTrue(ParserFuzz.replay(TARGET, ConfigFuzzTest::read) > 0);
    }

    static void read(byte[] config) throws IOException {
        Path weights = ParserFuzz.scratch(TARGET, Checkpoint.SINGLE);
        if (!Files.exists(weights)) {
            Files.copy(Path.of("src/test/resources/reference/gpt2_tied/model.safetensors"), weights);
        }
        Path dir = weights.getParent();
        Files.write(ParserFuzz.scratch(TARGET, Checkpoint.CONFIG), config);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            // in the order every command reads a checkpoint: the config, then the tensors it implies
            ModelConfig c = ModelConfig.from(ck);
            Architecture.forCheckpoint(ck).validate(ck, c);
            Architecture arch = c.architecture();
            arch.tensorNames(c);
            new HeadLayout(arch, c);
            new NeuronLayout(arch, c);
        }
    }
}
