package org.neurotome.model;

import java.util.BitSet;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * The experts of one streamed sparse layer that have been read so far. A streamed sparse layer
 * is widened without its routed experts — their rows of the layer's one FFN
 * ({@link LayerWeights}) are zeros — and the forward reads, once the router has chosen for
 * every position of the batch, only the experts it selected anywhere ({@link #read}). An expert
 * no position selected has routing weight 0 everywhere, so its rows never reach the output and
 * the results equal those of the whole layer (cf. the expert dispatch of transformers'
 * {@code MixtralSparseMoeBlock}, which runs only the experts with routed tokens).
 */
final class ExpertReads {
    private final int count;
    private final IntConsumer reader;
    private final BitSet done = new BitSet();
    private final ExpertCounter counter;

    /** Counts the experts read by the layers of one model (for tests and benchmarks). */
    static final class ExpertCounter {
        private long experts;

        synchronized void add(long n) {
            experts += n;
        }

        synchronized long experts() {
            return experts;
        }
    }

    /**
     * @param count  the layer's experts
     * @param reader reads expert e's rows into the layer's arrays (which alias the memory it fills)
     */
    ExpertReads(int count, IntConsumer reader, ExpertCounter counter) {
        this.count = count;
        this.reader = reader;
        this.counter = counter;
    }

    /** Reads the experts of {@code experts} not read yet. */
    void read(Set<Integer> experts) {
        int n = 0;
        for (int e : experts) {
            if (e < 0 || e >= count) {
                throw new IllegalArgumentException("expert " + e + " outside 0.." + (count - 1));
            }
            if (!done.get(e)) {
                reader.accept(e);
                done.set(e);
                n++;
            }
        }
        counter.add(n);
    }
}
