package org.neurotome.lora;

import org.neurotome.arch.WeightLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

/**
 * The change a {@link LoraModule} makes to its tensor in the tensor's own stored layout:
 * {@code Δ = factor·scale·B·A} as [out, in] for {@code nn.Linear}, its transpose [in, out] for
 * GPT-2's Conv1D. Δ is kept factored, {@code Δ[row, col] = Σ_k U[row, k]·V[k, col]}
 * (U = factor·scale·B, V = A for Linear; U = factor·scale·Aᵀ, V = Bᵀ for Conv1D), and added to
 * any range of the tensor's elements as they are read — a whole matrix, or a few rows — one
 * stored row at a time: Δ's row is summed over the rank in float32, then added to W once.
 * Large ranges are computed on several threads.
 */
public final class LoraDelta {
    /** Elements computed per block: rows of a block are shared among threads. */
    private static final int BLOCK = 1 << 20;

    private final String tensor;
    private final int rank;
    private final int rows;
    private final int cols;
    private final float[] u;
    private final float[] v;

    private LoraDelta(String tensor, int rank, int rows, int cols, float[] u, float[] v) {
        this.tensor = tensor;
        this.rank = rank;
        this.rows = rows;
        this.cols = cols;
        this.u = u;
        this.v = v;
    }

    /** The delta of {@code m} on a tensor stored in {@code layout}, multiplied by {@code factor} (a merge's {@code scale}). */
    public static LoraDelta of(LoraModule m, WeightLayout layout, double factor) {
        int r = m.rank();
        double s = factor * m.scale();
        if (layout == WeightLayout.LINEAR) {
            float[] u = new float[m.out() * r];
            for (int i = 0; i < u.length; i++) {
                u[i] = (float) (s * m.b()[i]);
            }
            return new LoraDelta(m.tensor(), r, m.out(), m.in(), u, m.a());
        }
        float[] u = new float[m.in() * r];
        float[] v = new float[r * m.out()];
        for (int k = 0; k < r; k++) {
            for (int i = 0; i < m.in(); i++) {
                u[i * r + k] = (float) (s * m.a()[k * m.in() + i]);
            }
            for (int o = 0; o < m.out(); o++) {
                v[k * m.out() + o] = m.b()[o * r + k];
            }
        }
        return new LoraDelta(m.tensor(), r, m.in(), m.out(), u, v);
    }

    /** The tensor this delta changes. */
    public String tensor() {
        return tensor;
    }

    /** The stored shape it applies to: {@code {rows, cols}}. */
    public long[] shape() {
        return new long[] {rows, cols};
    }

    /** Adds Δ to the whole tensor {@code values} (row-major, as stored). */
    public void addTo(float[] values) {
        if (values.length != (long) rows * cols) {
            throw new IllegalArgumentException(tensor + ": " + values.length + " values, expected " + rows + " x " + cols);
        }
        addRange(values, 0, values.length);
    }

    /**
     * Adds Δ to elements {@code [offset, offset + count)} of the tensor, held as native-order
     * float32 in {@code dst} (as a {@code TensorSource} reads them).
     */
    public void addTo(MemorySegment dst, long offset, long count) {
        if (offset < 0 || count < 0 || offset + count > (long) rows * cols) {
            throw new IllegalArgumentException(tensor + ": elements [" + offset + ", " + (offset + count)
                    + ") outside " + rows + " x " + cols);
        }
        float[] buf = new float[(int) Math.min(count, BLOCK + cols)];
        long done = 0;
        while (done < count) {
            long start = offset + done;
            // whole rows where possible, so a block is split among threads by row
            long end = Math.min(offset + count, Math.max(start + 1, (start / cols + Math.max(1, BLOCK / cols)) * cols));
            int n = (int) (end - start);
            MemorySegment.copy(dst, ValueLayout.JAVA_FLOAT_UNALIGNED, 4 * done, buf, 0, n);
            addRange(buf, start, n);
            MemorySegment.copy(buf, 0, dst, ValueLayout.JAVA_FLOAT_UNALIGNED, 4 * done, n);
            done += n;
        }
    }

    /** Adds Δ to {@code n} elements starting at flat element {@code start}, held in {@code buf} from index 0. */
    private void addRange(float[] buf, long start, int n) {
        int firstRow = (int) (start / cols);
        int lastRow = (int) ((start + n - 1) / cols);
        IntStream rowsOf = IntStream.rangeClosed(firstRow, lastRow);
        if ((long) (lastRow - firstRow + 1) * cols * rank > (1 << 22)) {
            rowsOf = rowsOf.parallel();
        }
        rowsOf.forEach(row -> {
            long rowStart = (long) row * cols;
            int from = (int) Math.max(0, start - rowStart);
            int to = (int) Math.min(cols, start + n - rowStart);
            float[] delta = new float[to - from];
            for (int k = 0; k < rank; k++) {
                float uk = u[row * rank + k];
                if (uk == 0f) {
                    continue;
                }
                int vk = k * cols;
                for (int c = from; c < to; c++) {
                    delta[c - from] += uk * v[vk + c];
                }
            }
            int at = (int) (rowStart + from - start);
            for (int c = 0; c < delta.length; c++) {
                buf[at + c] += delta[c];
            }
        });
    }
}
