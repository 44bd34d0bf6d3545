package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * One named weight edit of a recipe (docs/method.md A5). An edit is lowered to
 * {@link TensorEdit}s on the input checkpoint's tensors; it records what it silences in the
 * {@link EditContext} so a later {@code compact} knows what can be removed.
 */
public interface Edit {
    /** The op name a recipe uses, e.g. {@code zero-heads}. */
    String op();

    /** The tensor edits that realise this edit, in order. */
    List<TensorEdit> lower(EditContext context);

    /** The edit's parameters, for the manifest and {@code --dry-run}. */
    ObjectNode describe();
}
