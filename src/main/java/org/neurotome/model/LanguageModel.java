package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
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
    private boolean warnedLength;

    private LanguageModel(Path dir, Weights weights, TextTokenizer tokenizer) {
        this.dir = dir;
        this.weights = weights;
        this.transformer = new Transformer(weights);
        this.tokenizer = tokenizer;
    }

    /** Loads the checkpoint in {@code dir} onto {@code device}. */
    public static LanguageModel open(Path dir, Device device) {
        Weights weights;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            ModelConfig.from(ckpt); // config errors name the file's full path
            weights = Weights.load(ckpt, device);
        }
        try {
            return new LanguageModel(dir, weights, TextTokenizer.open(dir, weights.config()).orElse(null));
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
        int[] ids = tokenizer.encode(text);
        checkLength(ids.length);
        return ids;
    }

    /**
     * Checks a sequence of {@code tokens} against the model's context: longer than a model with
     * learned positions holds is an error (exit 2); longer than {@code max_position_embeddings}
     * of a rotary model runs, past what it was trained on, with a warning on stderr, once.
     */
    public void checkLength(int tokens) {
        ModelConfig c = weights.config();
        if (tokens <= c.maxPositions()) {
            return;
        }
        if (weights.posEmbed() != null) {
            throw NeurotomeException.badInput("a sequence of " + tokens + " tokens is longer than the model's "
                    + c.maxPositions() + " learned positions");
        }
        if (!warnedLength) {
            warnedLength = true;
            System.err.println("warning: a sequence of " + tokens + " tokens is longer than " + dir
                    + "'s max_position_embeddings " + c.maxPositions() + "; positions past it were never trained,"
                    + " so what the model does there is unreliable");
            System.err.flush();
        }
    }

    /**
     * Refuses logits that hold a NaN or an infinity (exit 3): they turn every probability and
     * metric into nonsense. The message names the first tensor of the checkpoint with a
     * non-finite value, found by a scan that runs only now.
     */
    public void requireFinite(NDArray logits) {
        if (logits.isNaN().logicalOr(logits.isInfinite()).any().getBoolean()) {
            throw nonFinite();
        }
    }

    /** As {@link #requireFinite(NDArray)}, for logits copied to Java. */
    public void requireFinite(float[] logits) {
        for (float v : logits) {
            if (!Float.isFinite(v)) {
                throw nonFinite();
            }
        }
    }

    private NeurotomeException nonFinite() {
        String where = NonFiniteWeights.first(dir);
        return NeurotomeException.badCheckpoint(dir + ": the model computes non-finite logits (NaN or infinite); "
                + (where != null ? where : "every weight is finite, so the forward pass overflows"));
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
