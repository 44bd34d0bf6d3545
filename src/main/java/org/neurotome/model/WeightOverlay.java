package org.neurotome.model;

import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;

import java.nio.file.Path;

/**
 * A change to a model's weights applied as they are read, never written into the checkpoint
 * (docs/architecture.md "Weights are a view"): a LoRA adapter, W + (α/r)·B·A. Because it decorates the
 * model's {@link TensorSource}, kept and streamed weights, every analysis and every command
 * see the changed weights without knowing of it.
 */
public interface WeightOverlay {

    /**
     * {@code base} with this overlay applied, for a checkpoint of family {@code arch} and
     * shape {@code config}; an overlay that does not fit them is a BAD_CHECKPOINT error naming
     * its file and the tensor or key.
     */
    TensorSource over(TensorSource base, Architecture arch, ModelConfig config);

    /** The directory the overlay was read from, for provenance. */
    Path dir();

    /** The SHA-256 identity of its files, for provenance. */
    String fingerprint();
}
