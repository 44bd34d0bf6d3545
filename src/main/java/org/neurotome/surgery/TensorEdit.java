package org.neurotome.surgery;

import java.util.Arrays;

/**
 * One change to one stored tensor, the unit every edit operation is lowered to: scale the
 * given slices along an axis (factor 0 zeroes them), keep only the given slices (a
 * compacting edit that changes the shape), add a computed delta to the whole tensor (a
 * merged LoRA adapter; {@code addend} is null for the other kinds), leave the tensor out of
 * the output ({@link Kind#DROP}) or write it under another name ({@link Kind#RENAME},
 * {@code into}; null for the other kinds) — a pruned expert's tensors go, the kept ones are
 * renumbered. For a 2-D tensor, axis 0 selects rows and axis 1 columns; a 1-D tensor (a bias or
 * norm weight) has only axis 0; along axis 0 a tensor of higher rank (transformers v5's fused
 * experts, [E, 2I, D]) selects whole sub-tensors, its index 0 being the expert.
 */
public record TensorEdit(String tensor, Kind kind, int axis, int[] indices, float factor, Addend addend, String into) {

    public enum Kind { SCALE, KEEP, ADD, DROP, RENAME }

    /** What an {@link Kind#ADD} edit adds: a delta of the tensor's stored shape. */
    public interface Addend {
        /** Adds the delta to {@code values}, row-major of {@code shape} (which must be the delta's). */
        void addTo(float[] values, long[] shape);

        /** What the delta is, for the manifest and {@code --dry-run}. */
        String describe();
    }

    public TensorEdit {
        indices = Arrays.stream(indices).distinct().sorted().toArray();
        if (axis < 0 || axis > 1) {
            throw new IllegalArgumentException("axis must be 0 or 1, got " + axis);
        }
    }

    public static TensorEdit scale(String tensor, int axis, int[] indices, float factor) {
        return new TensorEdit(tensor, Kind.SCALE, axis, indices, factor, null, null);
    }

    public static TensorEdit zero(String tensor, int axis, int[] indices) {
        return new TensorEdit(tensor, Kind.SCALE, axis, indices, 0f, null, null);
    }

    public static TensorEdit keep(String tensor, int axis, int[] indices) {
        return new TensorEdit(tensor, Kind.KEEP, axis, indices, 1f, null, null);
    }

    public static TensorEdit add(String tensor, Addend addend) {
        return new TensorEdit(tensor, Kind.ADD, 0, new int[0], 1f, java.util.Objects.requireNonNull(addend), null);
    }

    /** Leaves {@code tensor} out of the output. */
    public static TensorEdit drop(String tensor) {
        return new TensorEdit(tensor, Kind.DROP, 0, new int[0], 1f, null, null);
    }

    /** Writes {@code tensor} (with its other edits) under the name {@code into}. */
    public static TensorEdit rename(String tensor, String into) {
        return new TensorEdit(tensor, Kind.RENAME, 0, new int[0], 1f, null, java.util.Objects.requireNonNull(into));
    }

    /** Whether this edit changes the tensor's values or shape (not its name or presence). */
    public boolean changesValues() {
        return kind == Kind.SCALE || kind == Kind.KEEP || kind == Kind.ADD;
    }

    /** The shape after this edit. */
    public long[] apply(long[] shape) {
        if (kind != Kind.KEEP) {
            return shape;
        }
        long[] out = shape.clone();
        out[axis] = indices.length;
        return out;
    }

    /**
     * Applies a {@link Kind#SCALE} edit to rows {@code [from, to)} of a tensor of {@code shape},
     * held in {@code rows} (row-major, just those rows; a 1-D tensor's rows are its elements).
     */
    public void scaleRows(float[] rows, long[] shape, long from, long to) {
        if (kind != Kind.SCALE) {
            throw new IllegalStateException(tensor + ": only a scaling edit applies to rows one block at a time");
        }
        checkAxis(shape);
        long extent = shape[axis];
        int cols = cols(shape);
        for (int i : indices) {
            if (i < 0 || i >= extent) {
                throw new IllegalArgumentException(tensor + ": index " + i + " outside axis " + axis + " of shape "
                        + Arrays.toString(shape));
            }
            if (axis == 0) {
                if (i >= from && i < to) {
                    int base = (int) (i - from) * cols;
                    for (int c = 0; c < cols; c++) {
                        rows[base + c] *= factor;
                    }
                }
            } else {
                for (int r = 0; r < to - from; r++) {
                    rows[r * cols + i] *= factor;
                }
            }
        }
    }

    /**
     * Applies the edit to row-major {@code values} of {@code shape}; returns the input array
     * (edited in place, or as it is for DROP and RENAME) for SCALE and ADD, a new array for KEEP.
     */
    public float[] apply(float[] values, long[] shape) {
        if (kind == Kind.ADD) {
            addend.addTo(values, shape);
            return values;
        }
        if (kind == Kind.DROP || kind == Kind.RENAME) {
            return values;
        }
        checkAxis(shape);
        int rows = (int) shape[0];
        int cols = cols(shape);
        int extent = axis == 0 ? rows : cols;
        for (int i : indices) {
            if (i < 0 || i >= extent) {
                throw new IllegalArgumentException(tensor + ": index " + i + " outside axis " + axis + " of shape "
                        + Arrays.toString(shape));
            }
        }
        if (kind == Kind.SCALE) {
            scaleRows(values, shape, 0, rows);
            return values;
        }
        if (axis == 0) {
            float[] out = new float[indices.length * cols];
            for (int k = 0; k < indices.length; k++) {
                System.arraycopy(values, indices[k] * cols, out, k * cols, cols);
            }
            return out;
        }
        float[] out = new float[rows * indices.length];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < indices.length; k++) {
                out[r * indices.length + k] = values[r * cols + indices[k]];
            }
        }
        return out;
    }

    /** Axis 0 of any tensor of rank 1 or more; axis 1 of a 2-D tensor only. */
    private void checkAxis(long[] shape) {
        if (shape.length < 1 || axis >= shape.length || axis == 1 && shape.length != 2) {
            throw new IllegalArgumentException(tensor + ": axis " + axis + " of a tensor of shape " + Arrays.toString(shape));
        }
    }

    /** The elements of one index of axis 0 (a row; a whole sub-tensor of a 3-D tensor). */
    static int cols(long[] shape) {
        long n = 1;
        for (int d = 1; d < shape.length; d++) {
            n *= shape[d];
        }
        return Math.toIntExact(n);
    }
}
