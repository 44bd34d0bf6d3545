package org.neurotome.cna;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import org.neurotome.arch.Activation;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.fixtures.FixtureTokenizerBuilder;
import org.neurotome.fixtures.FixtureVocabulary;
import org.neurotome.model.CheckpointTensors;
import org.neurotome.model.InitialWeights;
import org.neurotome.model.Weights;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Untrained checkpoints with the fixture-world tokenizer, so that analyses can run on text
 * prompts and data sets: weights drawn from N(0, std²) with a fixed seed (as
 * {@link InitialWeights} does), written as a Hugging Face directory.
 */
public final class RandomCheckpoint {
    private RandomCheckpoint() {
    }

    /** A Llama of the given shape over the fixture vocabulary (BOS 1, EOS 2), GQA with half the heads as kv heads. */
    public static ModelConfig llama(int layers, int heads, int headDim, int ffn) {
        return llama(layers, heads, headDim, ffn, FixtureVocabulary.standard().size());
    }

    /** A Llama of the given shape and vocabulary size. */
    public static ModelConfig llama(int layers, int heads, int headDim, int ffn, int vocab) {
        return new ModelConfig("llama", layers, heads, Math.max(1, heads / 2), headDim, heads * headDim, ffn, vocab,
                256, 1e-5, 10000, headDim, 0, Activation.SILU, false, false, false, 1, List.of(2));
    }

    /** A GPT-2 (LayerNorm, tied embeddings) of the given shape over the fixture vocabulary. */
    public static ModelConfig gpt2(int layers, int heads, int headDim, int ffn) {
        int d = heads * headDim;
        return new ModelConfig("gpt2", layers, heads, heads, headDim, d, ffn, FixtureVocabulary.standard().size(), 256,
                1e-5, 10000, 0, 0, Activation.GELU_NEW, true, true, true, 1, List.of(2));
    }

    /** Writes {@code config} with random weights (seed, std) and the fixture tokenizer into {@code dir}. */
    public static Path write(Path dir, ModelConfig config, long seed, double std) {
        writeWeights(dir, config, seed, std);
        new FixtureTokenizerBuilder(FixtureVocabulary.standard()).writeTo(dir);
        return dir;
    }

    /** Writes {@code config} with random weights (seed, std) and no tokenizer into {@code dir}. */
    public static Path writeWeights(Path dir, ModelConfig config, long seed, double std) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
             Weights w = InitialWeights.initialize(m, config, new Random(seed), std)) {
            new CheckpointWriter(1L << 31, Map.of("format", "pt"), false).write(dir, CheckpointTensors.of(w, DType.F32),
                    Map.of(Checkpoint.CONFIG, config.toConfigJson().toString().getBytes(StandardCharsets.UTF_8)));
        }
        return dir;
    }
}
