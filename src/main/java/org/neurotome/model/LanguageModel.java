package org.neurotome.model;

import ai.djl.Device;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A checkpoint directory loaded for running: its weights on a device, the forward pass over
 * them, and its tokenizer when it has one. The checkpoint files are closed once the weights
 * are read.
 */
public final class LanguageModel implements AutoCloseable {
    private final Path dir;
    private final Weights weights;
    private final Transformer transformer;
    private final TextTokenizer tokenizer;

    private LanguageModel(Path dir, Weights weights, TextTokenizer tokenizer) {
        this.dir = dir;
        this.weights = weights;
        this.transformer = new Transformer(weights);
        this.tokenizer = tokenizer;
    }

    /**
     * Loads the checkpoint in {@code dir} (a directory, or an archive of one: see
     * {@link Checkpoint#open}) onto {@code device}; {@link #dir()} stays {@code dir} as given.
     */
    public static LanguageModel open(Path dir, Device device) {
        Weights weights;
        Path files;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            weights = Weights.load(ckpt, device);
            files = ckpt.dir();
        }
        try {
            return new LanguageModel(dir, weights, TextTokenizer.open(files, weights.config()).orElse(null));
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    public ModelConfig config() {
        return weights.config();
    }

    public Weights weights() {
        return weights;
    }

    public Transformer transformer() {
        return transformer;
    }

    public Optional<TextTokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** {@code text} as ids; a model without {@code tokenizer.json} is a BAD_INPUT error asking for ids. */
    public int[] encode(String text) {
        if (tokenizer == null) {
            throw NeurotomeException.badInput(dir + " has no " + TextTokenizer.FILE + "; give token ids instead of text");
        }
        return tokenizer.encode(text);
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
        transformer.close();
        weights.close();
    }
}
