package org.neurotome.fuzz;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.checkpoint.FloatCodec;
import org.neurotome.checkpoint.SafetensorsFile;
import org.neurotome.checkpoint.TensorInfo;

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
 * The safetensors reader ({@link SafetensorsFile#open}) on mutated files: the JSON header is
 * mutated (the header of the reference checkpoints), the 8-byte length is sometimes replaced
 * or nudged, the data section sometimes cut or grown; a file that opens has every floating
 * tensor decoded. Harness and corpus: {@link ParserFuzz}.
 */
class SafetensorsFuzzTest {
    static final String TARGET = "safetensors";
    private static final List<byte[]> SEEDS = ParserFuzz.seeds(Path.of("src/test/resources/reference"),
            "{gpt2_odd_untied,llama_gqa_tied_bf16,llama_sharded_f16,qwen2_bias}/*.safetensors");

    @ParameterizedTest(name = "round {0}")
    @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")
    void anyFileOpensOrIsRefused(int round) {
        ParserFuzz.fuzz(TARGET, round, SafetensorsFuzzTest::mutateFile, SafetensorsFuzzTest::open);
    }

    @Test
    void theCorpusOpensOrIsRefused() {
        assertTrue(ParserFuzz.replay(TARGET, SafetensorsFuzzTest::open) > 0);
    }

    static void open(byte[] bytes) throws IOException {
        Path file = Files.createTempFile("fuzz", ".safetensors");
        try {
            Files.write(file, bytes);
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                for (TensorInfo t : f.tensors().values()) {
                    if (t.dtype().isFloat() && t.numel() < (1 << 20)) {
                        FloatCodec.decode(f.bytes(t), t.dtype(), (int) t.numel());
                    }
                }
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** A reference file with its header mutated and, now and then, its length field or data section. */
    private static byte[] mutateFile(Random r) {
        byte[] seed = SEEDS.get(r.nextInt(SEEDS.size()));
        long n = ByteBuffer.wrap(seed, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] header = Arrays.copyOfRange(seed, 8, 8 + (int) n);
        byte[] data = Arrays.copyOfRange(seed, 8 + (int) n, seed.length);
        header = ParserFuzz.mutate(List.of(header), r);
        long length = header.length;
        switch (r.nextInt(8)) {
            case 0 -> length = r.nextLong();
            case 1 -> length += r.nextInt(17) - 8;
            case 2 -> data = Arrays.copyOf(data, r.nextInt(data.length + 1));
            case 3 -> data = Arrays.copyOf(data, data.length + r.nextInt(64));
            default -> { }
        }
        byte[] prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(length).array();
        byte[] out = ParserFuzz.concat(ParserFuzz.concat(prefix, header), data);
        return r.nextInt(16) == 0 ? Arrays.copyOf(out, r.nextInt(Math.min(out.length, 16) + 1)) : out;
    }
}
