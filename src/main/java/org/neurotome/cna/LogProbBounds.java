package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Bounds on the log-probability increase of every component of one layer at several rows,
 * cheap enough to compute for all of them ({@code docs/bounds.md} derives each one). A
 * component adds {@code a·v} to the residual, and with the frozen final norm (scale folded
 * into the coefficient a) its increase is
 * <pre>
 *   Δ = f(u_t + a·d_t) − f(u_t) − log Σ_v p_v · exp(f(u_v + a·d_v) − f(u_v)),   d = direction(v)
 * </pre>
 * where u is the base's uncapped projection, f the final soft-cap ({@code c·tanh(x/c)}, or the
 * identity), p = softmax(f(u)) and t the target. {@code d_v = w_v · v} for the token vectors
 * w_v of {@link VocabularyProjection#tokenVectors}, so every quantity below costs dot products
 * of length D per component:
 * <ul>
 *   <li>upper (Jensen): {@code Δ ≤ f(u_t + a·d_t) − f(u_t) − a·q·d + (κ/2)·a²·E_p[d²]}, with
 *       {@code q_v = p_v·f'(u_v)} and κ ≥ max |f''| (κ = 0 without a cap, which leaves
 *       {@code a·(d_t − p·d)});</li>
 *   <li>lower: the best of {@code f(u_t + a·d_t) − f(u_t) − |a|·M} (M ≥ max |d_v|), Hoeffding's
 *       lemma (no cap), and a bound that takes the {@value #TOP_TOKENS} likeliest tokens S
 *       exactly and the rest to second order: {@code Σ_{v∉S} p_v e^{X_v} ≤ P_T + Σ_T p_v X_v
 *       + g(|a|M) Σ_T p_v X_v²}, {@code g(R) = (e^R − 1 − R)/R²};</li>
 * </ul>
 * where {@code E_p[d²]} over the tail is at most {@code min(max_{v∉S} p_v · λ·‖v‖², P_T·M²)}, λ
 * the bound on the Gram matrix of the token vectors ({@link VocabularyProjection#gramBound}).
 * Every bound is widened by a slack for float32 rounding of the exact scores it is compared
 * with: {@value #SLACK}·(1 + |a|·M) plus {@value #LOGIT_SLACK} times the largest base logit.
 */
final class LogProbBounds {
    /** Tokens whose direction entries the tail bounds take exactly, per row. */
    static final int TOP_TOKENS = 8;
    /** Slack per unit of |a|·M (the largest logit shift) for float32 rounding of exact scores. */
    static final double SLACK = 1e-4;
    /** Slack per unit of the largest base logit. */
    static final double LOGIT_SLACK = 1e-6;
    /** Rows whose dot products are computed together. */
    private static final int ROW_CHUNK = 32;

    /**
     * One layer's components at each row: vectors v_{r,i} (shared by the rows, or each row's
     * own) whose dot products with row vectors are taken on demand.
     */
    interface Components {
        /** {@code w} [R, k, D] → [R, k, I]: {@code w[r, j] · v_{r, i}}, for rows {@code r0 …}. */
        NDArray dots(NDArray w, int r0);

        /** ‖v_{r,i}‖ of row {@code r}. */
        float[] norms(int r);

        int size();

        /** The same vectors v_i at every row: {@code values} [I, D]. */
        static Components shared(NDArray values) {
            float[] norms = rowNorms(values);
            return new Components() {
                @Override
                public NDArray dots(NDArray w, int r0) {
                    Shape s = w.getShape();
                    return w.reshape(s.get(0) * s.get(1), s.get(2)).matMul(values.transpose())
                            .reshape(s.get(0), s.get(1), norms.length);
                }

                @Override
                public float[] norms(int r) {
                    return norms;
                }

                @Override
                public int size() {
                    return norms.length;
                }
            };
        }

        /** Each row's own vectors: {@code vectors} [R, I, D]. */
        static Components perRow(NDArray vectors) {
            int n = (int) vectors.getShape().get(1);
            float[] norms = vectors.norm(new int[] {2}).toFloatArray();
            return new Components() {
                @Override
                public NDArray dots(NDArray w, int r0) {
                    long rows = w.getShape().get(0);
                    NDArray v = vectors.get(r0 + ":" + (r0 + rows));                           // [R, I, D]
                    return w.batchMatMul(v.transpose(0, 2, 1));                              // [R, k, I]
                }

                @Override
                public float[] norms(int r) {
                    float[] out = new float[n];
                    System.arraycopy(norms, r * n, out, 0, n);
                    return out;
                }

                @Override
                public int size() {
                    return n;
                }
            };
        }
    }

    /**
     * Upper bounds [R][I], lower bounds [R][I] when asked for (else null), both widened by the
     * rounding slack [R][I] they include.
     */
    record Bounds(float[][] upper, float[][] lower, float[][] slack) {
    }

    private final VocabularyProjection projection;
    private final double cap;
    /** Half the largest |f''| of the cap: 2 / (3√3·c). */
    private final double halfCurvature;

    LogProbBounds(VocabularyProjection projection) {
        this.projection = projection;
        this.cap = projection.softcap();
        this.halfCurvature = cap > 0 ? 2 / (3 * Math.sqrt(3) * cap) : 0;
    }

    /**
     * What the bounds need of one row's base: the target's and the likeliest tokens' u, p and
     * q, the tail's mass and largest p, and where the batch keeps the row's pull-backs (of
     * {@code e_t}, of q and, for the tails, of each likely token).
     */
    private final class Row {
        final double ut;
        final int[] top;
        final double[] uTop;
        final double[] pTop;
        final double[] qTop;
        final double tailMass;
        final double tailMax;
        final double maxLogit;
        final int[] slots;

        Row(float[] base, int from, int target, boolean tails, PullBackBatch batch) {
            int vocab = projection.vocabSize();
            double[] u = new double[vocab];
            double[] logit = new double[vocab];
            double max = Double.NEGATIVE_INFINITY;
            double largest = 0;
            for (int v = 0; v < vocab; v++) {
                u[v] = base[from + v];
                logit[v] = f(u[v]);
                max = Math.max(max, logit[v]);
                largest = Math.max(largest, Math.abs(u[v]));
            }
            maxLogit = largest;
            double sum = 0;
            double[] p = new double[vocab];
            for (int v = 0; v < vocab; v++) {
                p[v] = Math.exp(logit[v] - max);
                sum += p[v];
            }
            float[] q = new float[vocab];
            for (int v = 0; v < vocab; v++) {
                p[v] /= sum;
                q[v] = (float) (p[v] * slope(u[v]));
            }
            ut = u[target];
            top = largest(p, Math.min(TOP_TOKENS, vocab));
            uTop = new double[top.length];
            pTop = new double[top.length];
            qTop = new double[top.length];
            double head = 0;
            boolean[] inTop = new boolean[vocab];
            for (int j = 0; j < top.length; j++) {
                int v = top[j];
                uTop[j] = u[v];
                pTop[j] = p[v];
                qTop[j] = p[v] * slope(u[v]);
                head += p[v];
                inTop[v] = true;
            }
            double tm = 0;
            for (int v = 0; v < vocab; v++) {
                if (!inTop[v]) {
                    tm = Math.max(tm, p[v]);
                }
            }
            tailMass = Math.max(0, 1 - head);
            tailMax = tm;
            slots = new int[2 + (tails ? top.length : 0)];
            slots[0] = batch.addToken(target);                                             // e_t
            slots[1] = batch.add(q);                                                       // q (= p without a cap)
            for (int j = 2; j < slots.length; j++) {
                slots[j] = batch.addToken(top[j - 2]);
            }
        }
    }

    /** One layer's rows reduced to what their bounds need, their pull-backs queued in a batch. */
    final class Prepared {
        private final Row[] rows;
        private final boolean lower;
        private final PullBackBatch batch;

        private Prepared(Row[] rows, boolean lower, PullBackBatch batch) {
            this.rows = rows;
            this.lower = lower;
            this.batch = batch;
        }
    }

    /**
     * The rows of the base whose uncapped projection is {@code base} [R, V], for the targets
     * {@code target}, reduced to what their bounds need (lower bounds too when {@code lower});
     * the pull-backs they need are queued in {@code batch}, so that many layers' rows share one
     * read of the unembedding. {@link #evaluate} gives the bounds.
     */
    Prepared prepare(NDArray base, int[] target, boolean lower, PullBackBatch batch) {
        int vocab = projection.vocabSize();
        boolean tails = lower || cap > 0;
        float[] all = base.toFloatArray();
        Row[] rows = new Row[target.length];
        for (int r = 0; r < rows.length; r++) {
            rows[r] = new Row(all, r * vocab, target[r], tails, batch);
        }
        return new Prepared(rows, lower, batch);
    }

    /** Bounds on the increase of each component {@code a[r][i]·v_{r,i}} on the prepared rows. */
    Bounds evaluate(Prepared prepared, float[][] a, Components components) {
        Row[] row = prepared.rows;
        boolean lower = prepared.lower;
        int rows = row.length;
        int n = components.size();
        double tokenNorm = projection.tokenNormBound();
        double gram = lower ? projection.gramBound() : 0;
        float[][] upper = new float[rows][n];
        float[][] low = lower ? new float[rows][n] : null;
        float[][] slacks = new float[rows][n];
        int hidden = projection.weights().config().hiddenSize();
        for (int r0 = 0; r0 < rows; r0 += ROW_CHUNK) {
            int r1 = Math.min(rows, r0 + ROW_CHUNK);
            int k = row[r0].slots.length;
            float[] dots;
            try (NDScope scope = new NDScope()) {
                float[] w = new float[(r1 - r0) * k * hidden];
                for (int r = r0; r < r1; r++) {
                    for (int j = 0; j < k; j++) {
                        System.arraycopy(prepared.batch.vector(row[r].slots[j]), 0, w, ((r - r0) * k + j) * hidden, hidden);
                    }
                }
                NDManager m = projection.weights().manager();
                dots = components.dots(m.create(w, new Shape(r1 - r0, k, hidden)), r0).toFloatArray(); // [R, k, I]
            }
            for (int r = r0; r < r1; r++) {
                Row w = row[r];
                float[] norms = components.norms(r);
                int base0 = (r - r0) * k * n;
                for (int i = 0; i < n; i++) {
                    double ai = a[r][i];
                    double dt = dots[base0 + i];
                    double qd = dots[base0 + n + i];
                    double bound = tokenNorm * norms[i];                                   // M ≥ max |d_v|
                    double slack = SLACK * (1 + Math.abs(ai) * bound) + LOGIT_SLACK * w.maxLogit;
                    slacks[r][i] = (float) slack;
                    double gain = f(w.ut + ai * dt) - f(w.ut);
                    double tailSecond = 0;
                    double headSecond = 0;
                    double headExp = 0;
                    double headQd = 0;
                    if (k > 2) {
                        tailSecond = w.tailMass * bound * bound;
                        if (lower) {
                            tailSecond = Math.min(tailSecond, w.tailMax * gram * norms[i] * norms[i]);
                        }
                        for (int j = 0; j < k - 2; j++) {
                            double dv = dots[base0 + (2 + j) * n + i];
                            headSecond += w.pTop[j] * dv * dv;
                            headQd += w.qTop[j] * dv;
                            headExp += w.pTop[j] * Math.exp(f(w.uTop[j] + ai * dv) - f(w.uTop[j]));
                        }
                    }
                    upper[r][i] = (float) (gain - ai * qd + halfCurvature * ai * ai * (headSecond + tailSecond) + slack);
                    if (lower) {
                        double best = gain - Math.abs(ai) * bound;
                        if (cap == 0) {
                            best = Math.max(best, ai * (dt - qd) - ai * ai * bound * bound / 2);
                        }
                        double tail = w.tailMass + ai * (qd - headQd)
                                + (halfCurvature + excess(Math.abs(ai) * bound)) * ai * ai * tailSecond;
                        double hybrid = gain - Math.log(headExp + tail);
                        if (hybrid > best) {
                            best = hybrid;
                        }
                        low[r][i] = (float) (best - slack);
                    }
                }
            }
        }
        return new Bounds(upper, low, slacks);
    }

    /**
     * ‖x_i‖ of each row of {@code x} [I, D], rounded up to float, summed in double in one pass
     * over x's transpose [D, I]: the layout the down projection's value vectors have (so the
     * pass reads them in place), over which libtorch's norm runs several times slower.
     */
    static float[] rowNorms(NDArray x) {
        int rows = Math.toIntExact(x.getShape().get(0));
        int cols = Math.toIntExact(x.getShape().get(1));
        MemorySegment t = MemorySegment.ofBuffer(x.transpose().toByteBuffer(true));        // [D, I], in order
        double[] sq = new double[rows];
        for (int d = 0; d < cols; d++) {
            long at = 4L * d * rows;
            for (int i = 0; i < rows; i++) {
                double v = t.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at + 4L * i);
                sq[i] += v * v;
            }
        }
        float[] out = new float[rows];
        for (int i = 0; i < rows; i++) {
            out[i] = Math.nextUp((float) Math.sqrt(sq[i]));
        }
        return out;
    }

    /**
     * An upper bound on {@code g(R) = (e^R − 1 − R)/R²} (R ≥ 0; g(0) = ½), the coefficient with
     * {@code e^x ≤ 1 + x + g(R)·x²} for every {@code x ≤ R}. Near 0, where the quotient
     * cancels, the series {@code ½ + R/6 + R²/24 + …} is bounded by {@code ½ + R/6 + R²/12}.
     */
    static double excess(double r) {
        if (r < 1e-3) {
            return 0.5 + r / 6 + r * r / 12;
        }
        return (Math.expm1(r) - r) / (r * r);
    }

    /** The final soft-cap f(x) = c·tanh(x/c), or x. */
    private double f(double x) {
        return cap > 0 ? cap * Math.tanh(x / cap) : x;
    }

    /** f'(x) = 1 − tanh²(x/c), or 1. */
    private double slope(double x) {
        if (cap == 0) {
            return 1;
        }
        double t = Math.tanh(x / cap);
        return 1 - t * t;
    }

    /** Indices of the {@code k} largest entries of {@code x}, largest first. */
    private static int[] largest(double[] x, int k) {
        int[] out = new int[k];
        double[] val = new double[k];
        java.util.Arrays.fill(val, Double.NEGATIVE_INFINITY);
        for (int v = 0; v < x.length; v++) {
            if (x[v] > val[k - 1]) {
                int j = k - 1;
                while (j > 0 && val[j - 1] < x[v]) {
                    val[j] = val[j - 1];
                    out[j] = out[j - 1];
                    j--;
                }
                val[j] = x[v];
                out[j] = v;
            }
        }
        return out;
    }
}
