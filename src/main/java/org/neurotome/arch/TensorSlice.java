package org.neurotome.arch;

/**
 * A contiguous block of one checkpoint tensor along one axis: indices
 * {@code start … start + length − 1} of axis {@code axis} of tensor {@code tensor}, all of
 * the other axes. This is what a weight edit zeroes, scales or keeps.
 */
public record TensorSlice(String tensor, int axis, long start, long length) {
    public TensorSlice {
        if (axis < 0 || start < 0 || length <= 0) {
            throw new IllegalArgumentException("bad slice of " + tensor + ": axis " + axis + ", start " + start
                    + ", length " + length);
        }
    }

    public long end() {
        return start + length;
    }
}
