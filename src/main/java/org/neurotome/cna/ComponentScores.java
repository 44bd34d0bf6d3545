package org.neurotome.cna;

/**
 * Log-probability increases (docs/method.md A2) of every component of a model at one scored
 * position, or their mean over many: each FFN neuron with its signed coefficient, each head,
 * and each attention and FFN layer as a whole, with the base log-probabilities they are
 * measured from.
 *
 * @param neuron     [L][I] increase of neuron l_k: v = m·value_k on the base x^{l-1} + A^l
 * @param coef       [L][I] the signed coefficient m_k
 * @param neuronBase [L] log p(target | bs(x^{l-1} + A^l))
 * @param head       [L][H] increase of head l_h: v = A^l_h on the base x^{l-1}
 * @param headBase   [L] log p(target | bs(x^{l-1}))
 * @param attention  [L] increase of the whole attention output A^l on x^{l-1}
 * @param ffn        [L] increase of the whole FFN output F^l on x^{l-1} + A^l
 */
public record ComponentScores(float[][] neuron, float[][] coef, double[] neuronBase, float[][] head,
                              double[] headBase, double[] attention, double[] ffn) {

    /** Running sums for a mean over positions. */
    static final class Sum {
        private final double[][] neuron;
        private final double[][] coef;
        private final double[] neuronBase;
        private final double[][] head;
        private final double[] headBase;
        private final double[] attention;
        private final double[] ffn;
        private int count;

        /** Sums for a model with {@code c}'s layers, heads and each layer's FFN neurons. */
        Sum(org.neurotome.arch.ModelConfig c) {
            int layers = c.numLayers();
            neuron = new double[layers][];
            coef = new double[layers][];
            for (int l = 0; l < layers; l++) {
                neuron[l] = new double[c.ffnWidth(l)];
                coef[l] = new double[c.ffnWidth(l)];
            }
            head = new double[layers][c.numHeads()];
            neuronBase = new double[layers];
            headBase = new double[layers];
            attention = new double[layers];
            ffn = new double[layers];
        }

        void add(ComponentScores s) {
            for (int l = 0; l < neuron.length; l++) {
                add(neuron[l], s.neuron[l]);
                add(coef[l], s.coef[l]);
                add(head[l], s.head[l]);
                neuronBase[l] += s.neuronBase[l];
                headBase[l] += s.headBase[l];
                attention[l] += s.attention[l];
                ffn[l] += s.ffn[l];
            }
            count++;
        }

        private static void add(double[] into, float[] v) {
            for (int i = 0; i < v.length; i++) {
                into[i] += v[i];
            }
        }

        int count() {
            return count;
        }

        ComponentScores mean() {
            if (count == 0) {
                throw new IllegalStateException("no scores to average");
            }
            return new ComponentScores(mean(neuron), mean(coef), mean(neuronBase), mean(head), mean(headBase),
                    mean(attention), mean(ffn));
        }

        private float[][] mean(double[][] m) {
            float[][] out = new float[m.length][];
            for (int l = 0; l < m.length; l++) {
                out[l] = new float[m[l].length];
                for (int i = 0; i < m[l].length; i++) {
                    out[l][i] = (float) (m[l][i] / count);
                }
            }
            return out;
        }

        private double[] mean(double[] v) {
            double[] out = new double[v.length];
            for (int i = 0; i < v.length; i++) {
                out[i] = v[i] / count;
            }
            return out;
        }
    }
}
