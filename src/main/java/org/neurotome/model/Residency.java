package org.neurotome.model;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;
import org.neurotome.checkpoint.Checkpoint;

import java.util.List;

/**
 * How a model's weights are held under a memory budget: kept whole in float32 when that fits
 * with room for activations, else streamed — each layer widened from the mapped file into one
 * of one or two reusable layer buffers while it runs (two when the budget holds them, so the
 * next layer is read while one runs), the unembedding kept when it fits in half of what is left.
 * A streamed sparse layer's buffer holds the layer without its routed experts, which a forward
 * reads one at a time beside it ({@link LayerExperts}): streaming reserves room for one expert.
 *
 * @param streaming    layers are widened per use rather than kept
 * @param unembedKept  the unembedding is kept (else read in blocks per use)
 * @param bytes        the float32 bytes the weights hold at most at once
 * @param layerBytes   the float32 size of the largest layer (streamed: without its routed experts)
 * @param layerBuffers layers widened at once when streaming: 2 when the next layer is read
 *                     while one runs, else 1 (0 when kept)
 * @param bufferBytes  the size of one layer buffer (the largest layer, aligned)
 */
public record Residency(boolean streaming, boolean unembedKept, long bytes, long layerBytes, int layerBuffers,
                        long bufferBytes) {

    /**
     * How {@code checkpoint}'s weights would be held under what {@code budget} has left (after
     * validating the checkpoint against its family). A budget too small for even one layer is a
     * BAD_INPUT error naming the layer and the smallest budget that works.
     */
    public static Residency of(Checkpoint checkpoint, MemoryBudget budget) {
        ModelConfig config = ModelConfig.from(checkpoint.config());
        Architecture arch = Architecture.forCheckpoint(checkpoint);
        arch.validate(checkpoint, config);
        Sizes sizes = Sizes.of(arch, config);
        long available = budget.available();
        if (sizes.resident() + MemoryBudget.ACTIVATION_FLOOR <= available) {
            return new Residency(false, true, sizes.resident(), sizes.largestLayer(), 0, 0);
        }
        long need = sizes.streaming();
        if (need > available) {
            throw NeurotomeException.badInput(budget.origin() + " leaves " + MemoryBudget.format(available)
                    + " for " + checkpoint.dir() + ", less than streaming it needs: layer " + sizes.largestLayerIndex()
                    + " widens to " + MemoryBudget.format(sizes.buffer())
                    + (sizes.expert() > 0 ? " in float32 and one of its routed experts to " + MemoryBudget.format(sizes.expert())
                            : "")
                    + " in float32, plus "
                    + MemoryBudget.format(sizes.small() + MemoryBudget.ACTIVATION_FLOOR)
                    + " for the norms and activations; " + budget.smallestFor(need, "to stream this model"));
        }
        long buffer = sizes.buffer();
        int buffers = available - need >= buffer ? 2 : 1;
        long left = available - need - (buffers - 1) * buffer;
        boolean unembedKept = sizes.unembed() <= left / 2;
        return new Residency(true, unembedKept, buffers * buffer + sizes.expert() + sizes.small()
                + (unembedKept ? sizes.unembed() : 0), sizes.largestLayer(), buffers, buffer);
    }

    /**
     * The smallest budget under which {@code checkpoint}'s weights can be streamed: one layer
     * in float32, the norms, the least room for activations and the runtime's own allowance.
     */
    public static long streamingFloor(Checkpoint checkpoint) {
        return streamingNeed(checkpoint) + MemoryBudget.RUNTIME_OVERHEAD;
    }

    /**
     * What streaming {@code checkpoint}'s weights takes from a budget at least: one layer in
     * float32, the norms and the least room for activations.
     */
    public static long streamingNeed(Checkpoint checkpoint) {
        ModelConfig config = ModelConfig.from(checkpoint.config());
        return Sizes.of(Architecture.forCheckpoint(checkpoint), config).streaming();
    }

    /**
     * The float32 sizes that decide between resident and streamed weights: {@code largestLayer}
     * without its routed experts, {@code expert} one routed expert (0 for a dense model).
     */
    private record Sizes(long resident, long largestLayer, int largestLayerIndex, long small, long unembed,
                         int layerTensors, long expert) {
        /**
         * What streaming holds at least: one layer buffer, one routed expert, the small
         * model-level tensors, the activation floor.
         */
        long streaming() {
            return buffer() + expert + small + MemoryBudget.ACTIVATION_FLOOR;
        }

        /** One layer buffer: the largest layer with room to align each of its tensors. */
        long buffer() {
            return largestLayer + 64L * (layerTensors + 1);
        }

        static Sizes of(Architecture arch, ModelConfig c) {
            long[] layer = new long[c.numLayers()];
            long routed = 0;
            long small = 0;
            int tensors = 0;
            for (Role r : arch.roles(c)) {
                if (!r.perLayer() && r != Role.EMBED && r != Role.LM_HEAD) {
                    small += 4 * Weights.numel(arch.shape(r, c));
                }
            }
            for (int l = 0; l < layer.length; l++) {
                List<Architecture.LayerTensor> ts = arch.layerTensors(c, l);
                tensors = Math.max(tensors, ts.size());
                for (Architecture.LayerTensor t : ts) {
                    long bytes = 4 * Weights.numel(arch.shape(t.role(), c));
                    if (t.role().perExpert() || t.role() == Role.EXPERTS_GATE_UP || t.role() == Role.EXPERTS_DOWN) {
                        routed += bytes;
                    } else {
                        layer[l] += bytes;
                    }
                }
            }
            int largest = 0;
            long layers = 0;
            for (int l = 0; l < layer.length; l++) {
                layers += layer[l];
                if (layer[l] > layer[largest]) {
                    largest = l;
                }
            }
            long unembed = 4L * c.vocabSize() * c.hiddenSize();
            long expert = routed == 0 ? 0 : 4L * 3 * c.features().experts().width() * c.hiddenSize();
            return new Sizes(layers + routed + small + unembed, layer[largest], largest, small, unembed, tensors, expert);
        }
    }
}
