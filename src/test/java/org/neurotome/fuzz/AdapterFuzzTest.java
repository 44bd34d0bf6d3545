package org.neurotome.fuzz;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.lora.LoraConfig;
import org.neurotome.lora.LoraDelta;
import org.neurotome.lora.LoraModule;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A PEFT adapter read and bound to its model ({@link LoraAdapter#read}, {@link LoraAdapter#bind},
 * and each module's delta computed) with its {@code adapter_config.json} mutated, or the header
 * of its {@code adapter_model.safetensors} (tensor names, shapes, dtypes, offsets) mutated: the
 * adapter of {@code llama_gqa_tied_bf16}, whose config has rank and alpha patterns. Harness:
 * {@link ParserFuzz}.
 */
class AdapterFuzzTest {
    static final String CONFIGS = "adapter-config";
    static final String WEIGHTS = "adapter-weights";
    private static final Path ADAPTER = Path.of("src/test/resources/lora/llama_gqa_tied_bf16/adapter");
    private static final Path MODEL = Path.of("src/test/resources/reference/llama_gqa_tied_bf16");
    private static final List<byte[]> CONFIG_SEEDS = ParserFuzz.seeds(ADAPTER, LoraConfig.FILE);

    @ParameterizedTest(name = "round {0}")
    @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")
    void anyConfigReadsOrIsRefused(int round) {
        ParserFuzz.fuzz(CONFIGS, round, r -> ParserFuzz.mutate(CONFIG_SEEDS, r), AdapterFuzzTest::withConfig);
    }

    @ParameterizedTest(name = "round {0}")
    @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")
    void anyWeightsFileReadsOrIsRefused(int round) {
        ParserFuzz.fuzz(WEIGHTS, round, AdapterFuzzTest::mutateWeights, AdapterFuzzTest::withWeights);
    }

    @Test
    void theCorpusReadsOrIsRefused() {
        assertTrue(ParserFuzz.replay(CONFIGS, AdapterFuzzTest::withConfig) > 0);
        assertTrue(ParserFuzz.replay(WEIGHTS, AdapterFuzzTest::withWeights) > 0);
    }

    static void withConfig(byte[] config) throws IOException {
        Path dir = ParserFuzz.scratch(CONFIGS, LoraConfig.FILE).getParent();
        Files.copy(ADAPTER.resolve(LoraAdapter.WEIGHTS), dir.resolve(LoraAdapter.WEIGHTS),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.write(dir.resolve(LoraConfig.FILE), config);
        bind(dir);
    }

    static void withWeights(byte[] weights) throws IOException {
        Path dir = ParserFuzz.scratch(WEIGHTS, LoraAdapter.WEIGHTS).getParent();
        Files.copy(ADAPTER.resolve(LoraConfig.FILE), dir.resolve(LoraConfig.FILE),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.write(dir.resolve(LoraAdapter.WEIGHTS), weights);
        bind(dir);
    }

    /** Reads the adapter, binds it to the model and computes every module's delta, as --adapter does. */
    private static void bind(Path dir) {
        LoraAdapter adapter = LoraAdapter.read(dir);
        try (Checkpoint ck = Checkpoint.open(MODEL)) {
            Architecture arch = Architecture.forCheckpoint(ck);
            for (LoraModule m : adapter.bind(arch, ModelConfig.from(ck))) {
                LoraDelta d = LoraDelta.of(m, arch.weightLayout(), 1.0);
                d.addTo(new float[(int) (d.shape()[0] * d.shape()[1])]);
            }
        }
    }

    /** The adapter's safetensors file with its JSON header mutated. */
    private static byte[] mutateWeights(Random r) {
        byte[] seed;
        try {
            seed = Files.readAllBytes(ADAPTER.resolve(LoraAdapter.WEIGHTS));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        long n = ByteBuffer.wrap(seed, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] header = ParserFuzz.mutate(List.of(Arrays.copyOfRange(seed, 8, 8 + (int) n)), r);
        byte[] data = Arrays.copyOfRange(seed, 8 + (int) n, seed.length);
        ByteBuffer out = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(header.length).put(header).put(data);
        return out.array();
    }
}
