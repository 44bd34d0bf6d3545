package org.neurotome.cna;

import java.util.Arrays;
import java.util.Comparator;

/**
 * Orders the entries of a [layer][index] table by value, largest first; ties go to the lower
 * layer, then index. Layers may differ in width (a mixture of experts' sparse and dense layers).
 */
final class Ranking {
    private Ranking() {
    }

    /**
     * The {@code {layer, index}} of the {@code top} largest values ({@code top} ≤ 0: all of
     * them), in rank order. NaN ranks last.
     */
    static int[][] order(float[][] values, int top) {
        int[] offset = new int[values.length + 1];
        for (int l = 0; l < values.length; l++) {
            offset[l + 1] = offset[l] + values[l].length;
        }
        int[] layerOf = new int[offset[values.length]];
        for (int l = 0; l < values.length; l++) {
            Arrays.fill(layerOf, offset[l], offset[l + 1], l);
        }
        Integer[] idx = new Integer[layerOf.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Comparator<Integer> byValue = Comparator.comparingDouble(i -> {
            float v = values[layerOf[i]][i - offset[layerOf[i]]];
            return Float.isNaN(v) ? Double.POSITIVE_INFINITY : -v;
        });
        Arrays.sort(idx, byValue.thenComparingInt(i -> i));
        int n = top <= 0 ? idx.length : Math.min(top, idx.length);
        int[][] out = new int[n][];
        for (int i = 0; i < n; i++) {
            int l = layerOf[idx[i]];
            out[i] = new int[] {l, idx[i] - offset[l]};
        }
        return out;
    }
}
