package org.neurotome.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.FloatCodec;
import org.neurotome.checkpoint.OutputTensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;

/**
 * Writes a random checkpoint of Llama-2-7B's shape (32 layers, hidden 4096, FFN 11008, 32
 * heads, vocabulary 32000, untied) in BF16, sharded as Hugging Face stores it, with the
 * Mistral-7B v0.1 tokenizer (a 32,000-entry SentencePiece-style BPE like Llama-2's) so text
 * prompts and eval suites run on it. Weights are N(0, 0.02²) (drawn from a table of 2^16
 * samples by a xorshift generator, so 6.7 billion of them take seconds), norms 1.
 * Usage: {@code scripts/bench SevenBillionCheckpoint DIR [LAYERS]} — {@code LAYERS} cuts the
 * model to its first layers (the 2-layer slice is 1.33 GB); nothing is written when DIR already
 * holds a checkpoint.
 */
public final class SevenBillionCheckpoint {
    static final Path TOKENIZER = Path.of("src/test/resources/real-models/tokenizers/mistral-v0.1-from-lenml-llama2");
    private static final long SHARD_BYTES = 5_000_000_000L;
    private static final int CHUNK = 1 << 22;

    private SevenBillionCheckpoint() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        int layers = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        if (Files.exists(dir.resolve(Checkpoint.CONFIG))) {
            System.err.println(dir + " exists; not regenerated");
            return;
        }
        write(dir, layers);
    }

    static void write(Path dir, int layers) throws IOException {
        write(dir, llamaConfig(layers));
    }

    private static ObjectNode llamaConfig(int layers) {
        ObjectNode config = Json.MAPPER.createObjectNode()
                .put("model_type", "llama").put("hidden_size", 4096).put("intermediate_size", 11008)
                .put("num_attention_heads", 32).put("num_key_value_heads", 32).put("num_hidden_layers", layers)
                .put("max_position_embeddings", 4096).put("rms_norm_eps", 1e-5).put("rope_theta", 10000.0)
                .put("vocab_size", 32000).put("tie_word_embeddings", false).put("bos_token_id", 1)
                .put("eos_token_id", 2).put("hidden_act", "silu").put("torch_dtype", "bfloat16");
        config.putArray("architectures").add("LlamaForCausalLM");
        return config;
    }

    /**
     * Writes a random BF16 checkpoint of {@code config}'s family and shape (every tensor its
     * family table names, experts included) with the Mistral tokenizer into {@code dir}.
     */
    static void write(Path dir, ObjectNode config) throws IOException {
        ModelConfig c = ModelConfig.from(config);
        int layers = c.numLayers();
        Architecture arch = c.architecture();
        short[] table = new short[1 << 16];
        SplittableRandom random = new SplittableRandom(2024);
        for (int i = 0; i < table.length; i++) {
            table[i] = FloatCodec.floatToBf16((float) (random.nextGaussian() * 0.02));
        }
        Map<String, Role> roles = new LinkedHashMap<>();
        for (Role r : arch.roles(c)) {
            if (!r.perLayer()) {
                roles.put(arch.tensorName(r), r);
            }
        }
        for (int l = 0; l < layers; l++) {
            for (Architecture.LayerTensor t : arch.layerTensors(c, l)) {
                roles.put(t.name(), t.role());
            }
        }
        List<OutputTensor> tensors = new ArrayList<>();
        long[] seed = {0x9E3779B97F4A7C15L};
        for (String name : arch.tensorNames(c)) {
            Role role = roles.get(name);
            long[] shape = arch.shape(role, c);
            boolean norm = role == Role.LN1 || role == Role.LN2 || role == Role.LN_F;
            tensors.add(new OutputTensor(name, DType.BF16, shape, out -> {
                long n = 1;
                for (long d : shape) {
                    n *= d;
                }
                byte[] buf = new byte[CHUNK];
                long x = seed[0];
                for (long done = 0; done < n; ) {
                    int m = (int) Math.min(CHUNK / 2, n - done);
                    for (int i = 0; i < m; i++) {
                        short v;
                        if (norm) {
                            v = 0x3f80;
                        } else {
                            x ^= x << 13;
                            x ^= x >>> 7;
                            x ^= x << 17;
                            v = table[(int) (x & 0xffff)];
                        }
                        buf[2 * i] = (byte) v;
                        buf[2 * i + 1] = (byte) (v >>> 8);
                    }
                    out.write(buf, 0, 2 * m);
                    done += m;
                }
                seed[0] = x;
            }));
        }
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(Checkpoint.CONFIG, (Json.pretty().writeValueAsString(config) + "\n").getBytes(StandardCharsets.UTF_8));
        try (InputStream in = new GZIPInputStream(Files.newInputStream(TOKENIZER.resolve("tokenizer.json.gz")))) {
            files.put("tokenizer.json", in.readAllBytes());
        }
        files.put("tokenizer_config.json", Files.readAllBytes(TOKENIZER.resolve("tokenizer_config.json")));
        long t0 = System.nanoTime();
        new CheckpointWriter(SHARD_BYTES, Map.of("format", "pt"), false).write(dir, tensors, files);
        System.err.printf("wrote %s (%d layers) in %.0f s%n", dir, layers, (System.nanoTime() - t0) / 1e9);
    }
}
