package org.neurotome.cna;

import java.util.Arrays;
import java.util.Comparator;

/** Orders the entries of a [layer][index] table by value, largest first; ties go to the lower layer, then index. */
final class Ranking {
    private Ranking() {
    }

    /**
     * Flat indices {@code layer·width + index} of the {@code top} largest values ({@code top}
     * ≤ 0: all of them), in rank order. NaN ranks last.
     */
    static int[] order(float[][] values, int top) {
        int width = values[0].length;
        Integer[] idx = new Integer[values.length * width];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Comparator<Integer> byValue = Comparator.comparingDouble(i -> {
            float v = values[i / width][i % width];
            return Float.isNaN(v) ? Double.POSITIVE_INFINITY : -v;
        });
        Arrays.sort(idx, byValue.thenComparingInt(i -> i));
        int n = top <= 0 ? idx.length : Math.min(top, idx.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = idx[i];
        }
        return out;
    }
}
