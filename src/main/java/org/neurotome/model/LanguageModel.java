package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A checkpoint directory opened for running: its weights on a device (kept or streamed, as
 * the memory budget decides), optionally changed as they are read by a {@link WeightOverlay}
 * (a LoRA adapter), the forward pass over them, and its tokenizer when it has one. The
 * checkpoint stays mapped while the model is open: embedding rows, and streamed layers, are
 * read from it.
 */
public final class LanguageModel implements AutoCloseable {
    private final Path dir;
    private final Checkpoint checkpoint;
    private final Weights weights;
    private final Transformer transformer;
    private final TextTokenizer tokenizer;
    private final WeightOverlay overlay;
    private boolean warnedLength;

    private LanguageModel(Path dir, Checkpoint checkpoint, Weights weights, TextTokenizer tokenizer,
                          WeightOverlay overlay) {
        this.dir = dir;
        this.overlay = overlay;
        this.checkpoint = checkpoint;
        this.weights = weights;
        this.transformer = new Transformer(weights);
        this.tokenizer = tokenizer;
    }

    /** Opens the checkpoint in {@code dir} on {@code device}, with every weight kept in memory. */
    public static LanguageModel open(Path dir, Device device) {
        return open(dir, device, MemoryBudget.unlimited());
    }

    /**
     * Opens the checkpoint in {@code dir} (a directory, or an archive of one: see
     * {@link Checkpoint#open}) on {@code device}: its weights are kept when their float32 size
     * fits {@code budget}, streamed layer by layer otherwise. {@link #dir()} stays {@code dir}
     * as given.
     */
    public static LanguageModel open(Path dir, Device device, MemoryBudget budget) {
        return open(dir, device, budget, null);
    }

    /**
     * As {@link #open(Path, Device, MemoryBudget)}, the weights changed by {@code overlay}
     * (null for none) as they are read; the checkpoint's files are never changed.
     */
    public static LanguageModel open(Path dir, Device device, MemoryBudget budget, WeightOverlay overlay) {
        Checkpoint ckpt = Checkpoint.open(dir);
        Weights weights = null;
        try {
            ModelConfig.from(ckpt); // config errors name the file's full path
            weights = Weights.load(ckpt, device, budget, overlay);
            return new LanguageModel(dir, ckpt, weights, TextTokenizer.open(ckpt.dir(), weights.config()).orElse(null),
                    overlay);
        } catch (RuntimeException e) {
            if (weights != null) {
                weights.close();
            }
            ckpt.close();
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

    /** The overlay the weights are read through (a LoRA adapter), if any. */
    public Optional<WeightOverlay> overlay() {
        return Optional.ofNullable(overlay);
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
        checkpoint.close();
    }
}
