package org.neurotome.arch;

/**
 * How a family's stored rows map onto the runtime's arrays, and back. The runtime keeps one
 * fused qkv matrix per layer with all q heads, then all k heads, then all v heads, each head's
 * rotated dims in rotate-half order (first half, second half). Two stored layouts differ:
 * interleaved rotary (GPT-J, {@code modeling_gptj.py}'s {@code rotate_every_two}), whose rotated
 * dims alternate, and a qkv fused per head (GPT-NeoX, {@code modeling_gpt_neox.py}), whose rows
 * run head by head with q, k and v inside each. Both are row permutations, applied when
 * weights are read and inverted when they are written back.
 */
public final class RuntimeLayout {
    private RuntimeLayout() {
    }

    /**
     * The row order of the runtime's qkv over the checkpoint's rows (q, k, v stacked, or the
     * fused tensor): row j is stored row {@code perm[j]}; null when they are in the same order.
     */
    public static int[] qkvRowOrder(ModelConfig c, Architecture arch) {
        int hd = c.headDim();
        int rows = (c.numHeads() + 2 * c.numKvHeads()) * hd;
        int[] perm = arch.rotary() == RotaryStyle.INTERLEAVED
                ? interleavedToHalf(c.numHeads() + c.numKvHeads(), hd, c.rotaryDim(), rows) : null;
        if (arch.fusedQkvPerHead()) {
            perm = compose(perm, perHeadToBlocks(c.numHeads(), hd));
        }
        return perm;
    }

    /**
     * For interleaved rotary: within each of the first {@code nHeads} heads (of {@code hd}
     * rows), the row order that puts the rotated dims evens first, then odds. Row j of the
     * result is row {@code perm[j]} of the source.
     */
    public static int[] interleavedToHalf(int nHeads, int hd, int rotaryDim, int totalRows) {
        int[] perm = new int[totalRows];
        for (int i = 0; i < totalRows; i++) {
            perm[i] = i;
        }
        for (int h = 0; h < nHeads; h++) {
            int base = h * hd;
            for (int k = 0; k < rotaryDim / 2; k++) {
                perm[base + k] = base + 2 * k;
                perm[base + rotaryDim / 2 + k] = base + 2 * k + 1;
            }
        }
        return perm;
    }

    /**
     * For a qkv fused per head (head h's q, k and v rows at {@code 3·hd·h}, {@code +hd},
     * {@code +2hd}), the row order that groups all q heads, then all k heads, then all v heads.
     * Row j of the result is row {@code perm[j]} of the source.
     */
    public static int[] perHeadToBlocks(int nHeads, int hd) {
        int[] perm = new int[3 * nHeads * hd];
        for (int part = 0; part < 3; part++) {
            for (int h = 0; h < nHeads; h++) {
                for (int i = 0; i < hd; i++) {
                    perm[(part * nHeads + h) * hd + i] = 3 * hd * h + part * hd + i;
                }
            }
        }
        return perm;
    }

    /**
     * The row order of applying {@code outer} to rows already reordered by {@code inner}: row j
     * of the result is row {@code inner[outer[j]]} of the source (null means as they are).
     */
    static int[] compose(int[] outer, int[] inner) {
        if (outer == null) {
            return inner;
        }
        int[] perm = new int[outer.length];
        for (int j = 0; j < perm.length; j++) {
            perm[j] = inner[outer[j]];
        }
        return perm;
    }

    /**
     * Row {@code j} of the result is row {@code perm[j]} of {@code a} (rows of {@code cols}
     * values); with {@code inverse}, row {@code perm[j]} of the result is row j of {@code a}.
     */
    public static float[] permuteRows(float[] a, int cols, int[] perm, boolean inverse) {
        float[] out = new float[a.length];
        for (int j = 0; j < perm.length; j++) {
            int from = inverse ? j : perm[j];
            int to = inverse ? perm[j] : j;
            System.arraycopy(a, from * cols, out, to * cols, cols);
        }
        return out;
    }

    /** [rows, cols] row-major → [cols, rows]. */
    public static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }
}
