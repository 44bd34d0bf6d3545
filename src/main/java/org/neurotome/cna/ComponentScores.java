package org.neurotome.cna;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;

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
            this(widths(c), c.numHeads());
        }

        private static int[] widths(org.neurotome.arch.ModelConfig c) {
            int[] w = new int[c.numLayers()];
            for (int l = 0; l < w.length; l++) {
                w[l] = c.ffnWidth(l);
            }
            return w;
        }

        /** Sums for layers of {@code widths[l]} FFN neurons and {@code heads} heads. */
        private Sum(int[] widths, int heads) {
            int layers = widths.length;
            neuron = new double[layers][];
            coef = new double[layers][];
            for (int l = 0; l < layers; l++) {
                neuron[l] = new double[widths[l]];
                coef[l] = new double[widths[l]];
            }
            head = new double[layers][heads];
            neuronBase = new double[layers];
            headBase = new double[layers];
            attention = new double[layers];
            ffn = new double[layers];
        }

        /** Adds the sums of {@code other} (over other positions of the same model) to these. */
        void add(Sum other) {
            for (int l = 0; l < neuron.length; l++) {
                add(neuron[l], other.neuron[l]);
                add(coef[l], other.coef[l]);
                add(head[l], other.head[l]);
            }
            add(neuronBase, other.neuronBase);
            add(headBase, other.headBase);
            add(attention, other.attention);
            add(ffn, other.ffn);
            count += other.count;
        }

        private static void add(double[] into, double[] v) {
            for (int i = 0; i < v.length; i++) {
                into[i] += v[i];
            }
        }

        /** Sums of nothing yet, for a model shaped as this one's. */
        Sum zero() {
            return new Sum(Arrays.stream(neuron).mapToInt(n -> n.length).toArray(), head.length == 0 ? 0 : head[0].length);
        }

        /** Whether {@code other} sums the components of a model shaped as this one's. */
        boolean sameShape(Sum other) {
            if (neuron.length != other.neuron.length) {
                return false;
            }
            for (int l = 0; l < neuron.length; l++) {
                if (neuron[l].length != other.neuron[l].length || head[l].length != other.head[l].length) {
                    return false;
                }
            }
            return true;
        }

        /** FFN neurons and heads of the model. */
        long neurons() {
            return Arrays.stream(neuron).mapToLong(n -> n.length).sum();
        }

        long heads() {
            return Arrays.stream(head).mapToLong(h -> h.length).sum();
        }

        /** Writes the sums, their doubles' exact bits. */
        void write(DataOutputStream out) throws IOException {
            out.writeInt(neuron.length);
            out.writeInt(head.length == 0 ? 0 : head[0].length);
            for (double[] n : neuron) {
                out.writeInt(n.length);
            }
            for (int l = 0; l < neuron.length; l++) {
                ShardFile.writeDoubles(out, neuron[l]);
                ShardFile.writeDoubles(out, coef[l]);
                ShardFile.writeDoubles(out, head[l]);
            }
            for (double[] v : new double[][] {neuronBase, headBase, attention, ffn}) {
                ShardFile.writeDoubles(out, v);
            }
            out.writeInt(count);
        }

        /** Reads what {@link #write} wrote. */
        static Sum read(DataInputStream in) throws IOException {
            int layers = ShardFile.count(in);
            int heads = ShardFile.count(in);
            int[] widths = new int[layers];
            for (int l = 0; l < layers; l++) {
                widths[l] = ShardFile.count(in);
            }
            Sum s = new Sum(widths, heads);
            for (int l = 0; l < layers; l++) {
                s.neuron[l] = ShardFile.readDoubles(in, widths[l]);
                s.coef[l] = ShardFile.readDoubles(in, widths[l]);
                s.head[l] = ShardFile.readDoubles(in, heads);
            }
            for (double[] v : new double[][] {s.neuronBase, s.headBase, s.attention, s.ffn}) {
                System.arraycopy(ShardFile.readDoubles(in, layers), 0, v, 0, layers);
            }
            s.count = ShardFile.count(in);
            return s;
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
