package org.neurotome.model;

import ai.djl.ndarray.NDArray;

import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What one batched forward pass computes. The input is either token ids (rows of different
 * lengths are right-padded; causal attention keeps padding invisible to real positions, and
 * each row is read at its own last position) or a residual stream [B, S, D] entering layer
 * {@code startLayer} with each row's length (to reuse a prefix computed once). Taps are
 * recorded only when named ({@link Tap}); interventions apply per batch row.
 *
 * @param ids             token ids per row, or null for a residual input
 * @param startLayer      first layer to run (0 for token input)
 * @param residual        residual stream entering {@code startLayer} [B, S, D], or null
 * @param lengths         each row's length for a residual input, or null
 * @param tapAllPositions record taps at every position [B, S, …] instead of the last
 * @param allLogits       return logits at every position [B, S, V] instead of the last [B, V]
 * @param expertRemovals  experts taken out of a sparse layer's routing in one row
 * @param training        keep every intermediate alive for a backward pass (the caller's
 *                        {@code NDScope} or the result's {@link ForwardResult#close()} frees them)
 * @param cache           keys and values of earlier positions: the ids continue them, and their
 *                        own keys and values are appended (rows of equal length), or null
 */
public record ForwardRequest(List<int[]> ids, int startLayer, NDArray residual, int[] lengths, Set<String> taps,
                             boolean tapAllPositions, boolean allLogits, List<HeadScale> headScales,
                             List<NeuronScale> neuronScales, List<ExpertRemoval> expertRemovals, boolean training,
                             KvCache cache) {

    public ForwardRequest {
        if ((ids == null) == (residual == null)) {
            throw new IllegalArgumentException("a forward request needs token ids or a residual stream, not "
                    + (ids == null ? "neither" : "both"));
        }
        ids = ids == null ? null : List.copyOf(ids);
        taps = Set.copyOf(taps);
        headScales = List.copyOf(headScales);
        neuronScales = List.copyOf(neuronScales);
        expertRemovals = List.copyOf(expertRemovals);
        if (cache != null && (ids == null || training)) {
            throw new IllegalArgumentException("a key/value cache continues token ids, without training");
        }
    }

    /** A forward over token-id rows, which may differ in length. */
    public static ForwardRequest tokens(List<int[]> ids) {
        return new ForwardRequest(ids, 0, null, null, Set.of(), false, false, List.of(), List.of(), List.of(), false,
                null);
    }

    public static ForwardRequest tokens(int[]... ids) {
        return tokens(Arrays.asList(ids));
    }

    /**
     * A forward that starts at {@code layer} from {@code residual} [B, S, D] (e.g. a recorded
     * {@code blocks.{layer}.hook_resid_pre} at all positions, rows repeated), rows of
     * {@code lengths}. The caller keeps ownership of {@code residual}.
     */
    public static ForwardRequest fromResidual(int layer, NDArray residual, int[] lengths) {
        return new ForwardRequest(null, layer, residual, lengths.clone(), Set.of(), false, false, List.of(),
                List.of(), List.of(), false, null);
    }

    public ForwardRequest withTaps(Collection<String> names) {
        Set<String> all = new LinkedHashSet<>(taps);
        all.addAll(names);
        return new ForwardRequest(ids, startLayer, residual, lengths, all, tapAllPositions, allLogits, headScales,
                neuronScales, expertRemovals, training, cache);
    }

    public ForwardRequest withTaps(String... names) {
        return withTaps(Arrays.asList(names));
    }

    /** Taps at every position ([B, S, …]) rather than each row's last. */
    public ForwardRequest tapAtAllPositions() {
        return new ForwardRequest(ids, startLayer, residual, lengths, taps, true, allLogits, headScales, neuronScales,
                expertRemovals, training, cache);
    }

    /** Logits at every position [B, S, V] (for a language-modelling loss). */
    public ForwardRequest withAllLogits() {
        return new ForwardRequest(ids, startLayer, residual, lengths, taps, tapAllPositions, true, headScales,
                neuronScales, expertRemovals, training, cache);
    }

    public ForwardRequest withHeadScales(List<HeadScale> scales) {
        return new ForwardRequest(ids, startLayer, residual, lengths, taps, tapAllPositions, allLogits, scales,
                neuronScales, expertRemovals, training, cache);
    }

    public ForwardRequest withNeuronScales(List<NeuronScale> scales) {
        return new ForwardRequest(ids, startLayer, residual, lengths, taps, tapAllPositions, allLogits, headScales,
                scales, expertRemovals, training, cache);
    }

    /** Takes these experts out of their layers' routing, each in its own row ({@link ExpertRemoval}). */
    public ForwardRequest withExpertRemovals(List<ExpertRemoval> removals) {
        return new ForwardRequest(ids, startLayer, residual, lengths, taps, tapAllPositions, allLogits, headScales,
                neuronScales, removals, training, cache);
    }

    /** Keeps intermediates for autograd: run inside a {@code GradientCollector}, then call backward. */
    public ForwardRequest forTraining() {
        return new ForwardRequest(ids, startLayer, residual, lengths, taps, tapAllPositions, allLogits, headScales,
                neuronScales, expertRemovals, true, cache);
    }

    /**
     * Continues the sequences held by {@code cache}: the ids are read at the positions after
     * the cached ones, attend to the cached keys and values, and are appended to them.
     */
    public ForwardRequest withCache(KvCache kv) {
        return new ForwardRequest(ids, startLayer, residual, lengths, taps, tapAllPositions, allLogits, headScales,
                neuronScales, expertRemovals, training, kv);
    }

    /** Number of batch rows. */
    public int batchSize() {
        return ids != null ? ids.size() : lengths.length;
    }
}
