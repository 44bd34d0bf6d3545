package org.neurotome.model;

import org.neurotome.NeurotomeException;

import java.nio.file.Path;

/**
 * The memory a loaded model's users may work in beside its weights, and how it is shared out:
 * the one place that divides what is left among a pass's working sets, handed down with the
 * weights ({@link Weights#memory()}) from the {@link Residency} chosen when they were loaded.
 * What is divided is what the {@link MemoryBudget} they were loaded under has left, or, while a
 * stage of a recipe's plan runs, what is left of the share the plan gave that stage
 * ({@link Weights#workIn}). The forward pass, the analyses, the eval runner and LoRA training
 * take their share from here and never read the budget or the residency themselves.
 *
 * <p>Each share is of what is left when it is asked (another model opened since then leaves
 * less), so a share is read where the work is sized, not kept:
 * <ul>
 * <li>a layer-major group of forward passes: all of it ({@link #passGroupBytes()});</li>
 * <li>attribution's rows recorded before they are scored together: half ({@link #recordedRowsBytes()}),
 *     read once when the attribution is made, since which rows are scored together decides its
 *     scores to the last bit;</li>
 * <li>value directions projected onto the vocabulary at once: a sixteenth, counted in floats, so a
 *     quarter of it in bytes ({@link #projectedFloats()});</li>
 * <li>the vocabulary projection's cache: half, at most what it asks for ({@link #projectionCacheBytes}).</li>
 * </ul>
 */
public final class WorkingMemory {
    private final MemoryBudget budget;
    private final boolean streamed;

    WorkingMemory(MemoryBudget budget, boolean streamed) {
        this.budget = budget;
        this.streamed = streamed;
    }

    /**
     * Whether work over many prompts runs layer-major: the weights are streamed, so every prompt
     * goes through layer l before layer l + 1 is read, and a pass reads the checkpoint once.
     */
    public boolean layerMajor() {
        return streamed;
    }

    /** Room for the activations of one layer-major group of forward passes (at least one byte). */
    public long passGroupBytes() {
        return Math.max(budget.available(), 1);
    }

    /** Room for the rows an attribution records before scoring them together. */
    public long recordedRowsBytes() {
        return budget.available() / 2;
    }

    /** How many floats of value directions may be projected onto the vocabulary at once (at least {@code least}). */
    public long projectedFloats(long least) {
        return Math.max(least, budget.available() / 16);
    }

    /** The vocabulary projection's cache: {@code wanted}, or half of what is left when that is less. */
    public long projectionCacheBytes(long wanted) {
        return Math.min(wanted, budget.available() / 2);
    }

    /** Sets {@code bytes} of a cache aside until the reservation is closed. */
    public MemoryBudget.Reservation reserve(long bytes) {
        return budget.reserve(bytes);
    }

    /**
     * Refuses {@code what} unless the weights of the model in {@code dir} are kept: training
     * needs every weight in memory at once.
     */
    public void requireKept(Path dir, String what) {
        if (streamed) {
            throw NeurotomeException.badInput(dir + ": " + what + " needs the model's weights in memory, but they are "
                    + "streamed under this memory budget; " + MemoryBudget.RAISE);
        }
    }
}
