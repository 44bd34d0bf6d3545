package org.neurotome.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;

import java.util.Collection;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.ObjIntConsumer;

/**
 * The routed experts of one sparse layer, each its own {@link ExpertWeights}: kept in memory
 * with the layer, or (a streamed layer) read from the checkpoint one at a time when a forward
 * asks for it, into memory of its own that is freed when the forward is done with it. A forward
 * asks only for the experts its router selected somewhere in the batch: an expert no position
 * selected has routing weight 0 everywhere and adds nothing to the output (cf. the expert
 * dispatch of transformers' {@code MixtralSparseMoeBlock}, which runs only the experts with
 * routed tokens). A streamed layer so holds one expert at a time, whatever its number.
 */
final class LayerExperts {
    private final int count;
    private final List<ExpertWeights> kept;
    private final NDManager parent;
    private final BiFunction<Widening, Integer, ExpertWeights> reader;
    private final ExpertCounter counter;

    /** Counts the experts read by the streamed layers of one model (for tests and benchmarks). */
    static final class ExpertCounter {
        private long experts;

        synchronized void add(long n) {
            experts += n;
        }

        synchronized long experts() {
            return experts;
        }
    }

    private LayerExperts(int count, List<ExpertWeights> kept, NDManager parent,
                         BiFunction<Widening, Integer, ExpertWeights> reader, ExpertCounter counter) {
        this.count = count;
        this.kept = kept;
        this.parent = parent;
        this.reader = reader;
        this.counter = counter;
    }

    /** Experts held in memory with their layer. */
    static LayerExperts kept(List<ExpertWeights> experts) {
        return new LayerExperts(experts.size(), List.copyOf(experts), null, null, null);
    }

    /**
     * Experts read when asked for: {@code reader} widens expert e into the given memory, which
     * lives in a sub-manager of {@code parent}; each read is counted in {@code counter}.
     */
    static LayerExperts streamed(int count, NDManager parent, BiFunction<Widening, Integer, ExpertWeights> reader,
                                 ExpertCounter counter) {
        return new LayerExperts(count, null, parent, reader, counter);
    }

    /** Whether the experts are read per use rather than kept. */
    boolean streamed() {
        return kept == null;
    }

    /**
     * Hands expert e of {@code experts} (in their order) to {@code use}: the kept one, or the
     * one read now and freed after the call. The arrays are valid only during the call.
     */
    void visit(Collection<Integer> experts, ObjIntConsumer<ExpertWeights> use) {
        for (int e : experts) {
            if (e < 0 || e >= count) {
                throw new IllegalArgumentException("expert " + e + " outside 0.." + (count - 1));
            }
            if (kept != null) {
                use.accept(kept.get(e), e);
                continue;
            }
            try (Widening wd = Widening.fresh(parent.newSubManager())) {
                ExpertWeights w = reader.apply(wd, e);
                counter.add(1);
                use.accept(w, e);
            }
        }
    }

    /**
     * Every expert's value vectors, expert-major, then {@code shared}'s (if any): the layer's
     * [W, D] as one new array, unregistered from any scope (the caller closes it).
     */
    NDArray values(ExpertWeights shared) {
        NDList parts = new NDList();
        for (ExpertWeights w : kept) {
            parts.add(w.out());
        }
        if (shared != null) {
            parts.add(shared.out());
        }
        NDArray v = NDArrays.concat(parts, 0);
        NDScope.unregister(v);
        return v;
    }

    /** The kept experts, for writing the weights back; streamed experts are read through {@link #visit}. */
    List<ExpertWeights> kept() {
        return kept;
    }
}
