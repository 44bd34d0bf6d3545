package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.NormKind;
import org.neurotome.arch.Role;
import org.neurotome.arch.RotaryStyle;
import org.neurotome.arch.WeightLayout;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * A model's weights as float32 NDArrays, created once and normalised to one orientation
 * (see {@link LayerWeights}) from a checkpoint in any supported family's layout. Weights
 * can also be built from freshly initialised values and written back in the family's own
 * Hugging Face layout ({@link #toOutputTensors(DType)}), which is how models are trained and
 * saved. F16/BF16/F64 tensors are widened in Java; no array aliases mapped file memory.
 */
public final class Weights implements AutoCloseable {
    private final ModelConfig config;
    private final Architecture arch;
    private final NDManager manager;
    private final NDArray embed;
    private final NDArray posEmbed;
    private final NDArray lnF;
    private final NDArray lnFBias;
    private final NDArray unembed;
    private final NDArray unembedBias;
    private final List<LayerWeights> layers;
    /** The norm weights (gains) among the roles. */
    private static final java.util.Set<Role> NORMS = java.util.EnumSet.of(Role.LN1, Role.LN2, Role.LN_F, Role.Q_NORM,
            Role.K_NORM, Role.LN1_POST, Role.LN2_POST);

    private Weights(ModelConfig config, Architecture arch, NDManager manager, NDArray embed, NDArray posEmbed,
                    NDArray lnF, NDArray lnFBias, NDArray unembed, NDArray unembedBias, List<LayerWeights> layers) {
        this.config = config;
        this.arch = arch;
        this.manager = manager;
        this.embed = embed;
        this.posEmbed = posEmbed;
        this.lnF = lnF;
        this.lnFBias = lnFBias;
        this.unembed = unembed;
        this.unembedBias = unembedBias;
        this.layers = layers;
    }

    /** Validates {@code checkpoint} against its family table and loads every weight onto {@code device}. */
    public static Weights load(Checkpoint checkpoint, Device device) {
        ModelConfig config = ModelConfig.from(checkpoint.config());
        Architecture arch = Architecture.forCheckpoint(checkpoint);
        arch.validate(checkpoint, config);
        NDManager manager = NDManager.newBaseManager(device, "PyTorch");
        try {
            return build(manager, config, arch, checkpoint::floats);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Weights from float values named and shaped as a checkpoint of {@code arch} stores them
     * ({@link Architecture#tensorName}, {@link Architecture#shape}). The arrays live in a
     * sub-manager of {@code parent}, closed by {@link #close()}.
     */
    public static Weights fromTensors(NDManager parent, ModelConfig config, Architecture arch,
                                      Function<String, float[]> tensors) {
        NDManager manager = parent.newSubManager();
        try {
            return build(manager, config, arch, tensors);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Freshly initialised weights as transformers' {@code _init_weights} does for these
     * families: matrices and embeddings drawn from N(0, std²), norm weights 1 (0 where the
     * family scales by {@code 1 + w}), biases 0.
     */
    public static Weights initialize(NDManager parent, ModelConfig config, Random random, double std) {
        return fromTensors(parent, config, config.architecture(), initialTensors(config, random, std));
    }

    /** The values {@link #initialize} uses, by checkpoint tensor name. */
    public static Function<String, float[]> initialTensors(ModelConfig config, Random random, double std) {
        Architecture arch = config.architecture();
        Map<String, float[]> values = new LinkedHashMap<>();
        for (Role r : arch.roles(config)) {
            for (int l = 0; l < (r.perLayer() ? config.numLayers() : 1); l++) {
                long[] shape = arch.shape(r, config);
                float[] v = new float[Math.toIntExact(numel(shape))];
                boolean norm = NORMS.contains(r);
                boolean bias = r.key().endsWith("_bias");
                float unit = arch.normPlusOne() ? 0f : 1f;
                for (int i = 0; i < v.length; i++) {
                    v[i] = norm ? unit : bias ? 0f : (float) (random.nextGaussian() * std);
                }
                values.put(r.perLayer() ? arch.tensorName(r, l) : arch.tensorName(r), v);
            }
        }
        return values::get;
    }

    private static Weights build(NDManager m, ModelConfig c, Architecture arch, Function<String, float[]> src) {
        Loader ld = new Loader(m, c, arch, src);
        NDArray embed = ld.plain(Role.EMBED, -1);
        NDArray posEmbed = arch.has(Role.POS_EMBED, c) ? ld.plain(Role.POS_EMBED, -1) : null;
        NDArray lnF = ld.plain(Role.LN_F, -1);
        NDArray lnFBias = ld.optional(Role.LN_F_BIAS, -1);
        NDArray unembed = c.tied() ? embed : ld.plain(Role.LM_HEAD, -1);
        NDArray unembedBias = ld.optional(Role.LM_HEAD_BIAS, -1);
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            layers.add(ld.layer(l));
        }
        return new Weights(c, arch, m, embed, posEmbed, lnF, lnFBias, unembed, unembedBias,
                Collections.unmodifiableList(layers));
    }

    public ModelConfig config() {
        return config;
    }

    /** The family table these weights were read with (names as the source checkpoint spells them). */
    public Architecture architecture() {
        return arch;
    }

    public HeadLayout headLayout() {
        return new HeadLayout(arch, config);
    }

    /** The manager owning every weight array. */
    public NDManager manager() {
        return manager;
    }

    public Device device() {
        return manager.getDevice();
    }

    /** Token embeddings [V, D]. */
    public NDArray embed() {
        return embed;
    }

    /** Learned position embeddings [P, D] (GPT-2), or null. */
    public NDArray posEmbed() {
        return posEmbed;
    }

    public LayerWeights layer(int l) {
        return layers.get(l);
    }

    /** Layer {@code l}'s FFN value vectors [I, D]: row k is neuron k's column of the down projection. */
    public NDArray ffnValues(int l) {
        return layers.get(l).ffnOut();
    }

    /** The unembedding W_U [V, D] ({@code lm_head.weight}, or the token embeddings when tied). */
    public NDArray unembed() {
        return unembed;
    }

    /** {@code lm_head.bias} [V] (GPT-J), or null. */
    public NDArray unembedBias() {
        return unembedBias;
    }

    /** The final norm's weight g [D]. */
    public NDArray finalNormWeight() {
        return lnF;
    }

    /** The final norm's bias [D] (LayerNorm families), or null. */
    public NDArray finalNormBias() {
        return lnFBias;
    }

    public NormKind normKind() {
        return arch.norm();
    }

    public double normEps() {
        return config.normEps();
    }

    /**
     * Every trainable array by a stable name ({@code embed}, {@code layers.3.qkv}, …); a tied
     * unembedding is the embedding and appears once.
     */
    public Map<String, NDArray> parameters() {
        Map<String, NDArray> p = new LinkedHashMap<>();
        p.put("embed", embed);
        putIfPresent(p, "pos_embed", posEmbed);
        for (int l = 0; l < layers.size(); l++) {
            LayerWeights w = layers.get(l);
            String n = "layers." + l + ".";
            putIfPresent(p, n + "ln1", w.ln1());
            putIfPresent(p, n + "ln1_bias", w.ln1Bias());
            putIfPresent(p, n + "qkv", w.qkv());
            putIfPresent(p, n + "qkv_bias", w.qkvBias());
            putIfPresent(p, n + "o", w.o());
            putIfPresent(p, n + "o_bias", w.oBias());
            putIfPresent(p, n + "ln2", w.ln2());
            putIfPresent(p, n + "ln2_bias", w.ln2Bias());
            putIfPresent(p, n + "ffn_in", w.ffnIn());
            putIfPresent(p, n + "ffn_in_bias", w.ffnInBias());
            putIfPresent(p, n + "ffn_out", w.ffnOut());
            putIfPresent(p, n + "ffn_out_bias", w.ffnOutBias());
            putIfPresent(p, n + "q_norm", w.qNorm());
            putIfPresent(p, n + "k_norm", w.kNorm());
            putIfPresent(p, n + "ln1_post", w.ln1Post());
            putIfPresent(p, n + "ln2_post", w.ln2Post());
        }
        p.put("ln_f", lnF);
        putIfPresent(p, "ln_f_bias", lnFBias);
        if (!config.tied()) {
            p.put("unembed", unembed);
        }
        putIfPresent(p, "unembed_bias", unembedBias);
        return p;
    }

    private static void putIfPresent(Map<String, NDArray> p, String name, NDArray a) {
        if (a != null) {
            p.put(name, a);
        }
    }

    /**
     * The weights as checkpoint tensors of {@link #architecture()}, in the family's own names,
     * shapes and orientation, stored as {@code dtype}; values are read from the arrays when the
     * writer reaches each tensor.
     */
    public List<OutputTensor> toOutputTensors(DType dtype) {
        Saver sv = new Saver();
        List<OutputTensor> out = new ArrayList<>();
        for (String name : arch.tensorNames(config)) {
            Target t = sv.target(name);
            out.add(OutputTensor.ofLazyFloats(name, dtype, arch.shape(t.role, config), () -> sv.values(t.role, t.layer)));
        }
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }

    private record Target(Role role, int layer) {
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** [rows, cols] row-major → [cols, rows]. */
    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    /**
     * For interleaved rotary: within each of the first {@code nHeads} heads (of {@code hd}
     * rows), the row order that puts the rotated dims evens first, then odds. Row j of the
     * result is row {@code perm[j]} of the source.
     */
    static int[] interleavedToHalf(int nHeads, int hd, int rotaryDim, int totalRows) {
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
     * For a qkv fused per head (GPT-NeoX: head h's q, k and v rows at {@code 3·hd·h}, {@code +hd},
     * {@code +2hd}), the row order that groups all q heads, then all k heads, then all v heads.
     * Row j of the result is row {@code perm[j]} of the source.
     */
    static int[] perHeadToBlocks(int nHeads, int hd) {
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

    /** Row {@code j} of the result is row {@code perm[j]} of {@code a} (rows of {@code cols} values). */
    static float[] permuteRows(float[] a, int cols, int[] perm, boolean inverse) {
        float[] out = new float[a.length];
        for (int j = 0; j < perm.length; j++) {
            int from = inverse ? j : perm[j];
            int to = inverse ? perm[j] : j;
            System.arraycopy(a, from * cols, out, to * cols, cols);
        }
        return out;
    }

    /** Reads checkpoint-layout values into runtime arrays. */
    private static final class Loader {
        private final NDManager m;
        private final ModelConfig c;
        private final Architecture arch;
        private final Function<String, float[]> src;

        Loader(NDManager m, ModelConfig c, Architecture arch, Function<String, float[]> src) {
            this.m = m;
            this.c = c;
            this.arch = arch;
            this.src = src;
        }

        private float[] raw(Role r, int l) {
            String name = r.perLayer() ? arch.tensorName(r, l) : arch.tensorName(r);
            float[] v = src.apply(name);
            long want = numel(arch.shape(r, c));
            if (v == null || v.length != want) {
                throw new IllegalArgumentException("tensor '" + name + "' needs " + want + " values, got "
                        + (v == null ? "none" : v.length));
            }
            return v;
        }

        private NDArray array(float[] v, long... shape) {
            NDArray a = m.create(v, new Shape(shape));
            NDScope.unregister(a);
            return a;
        }

        NDArray plain(Role r, int l) {
            return array(raw(r, l), arch.shape(r, c));
        }

        NDArray optional(Role r, int l) {
            return arch.has(r, c) ? plain(r, l) : null;
        }

        /** A layer matrix as [out, in]. */
        private float[] reader(Role r, int l) {
            float[] v = raw(r, l);
            long[] s = arch.shape(r, c);
            return arch.weightLayout() == WeightLayout.LINEAR ? v : transpose(v, (int) s[0], (int) s[1]);
        }

        /** A layer matrix as [in, out]. */
        private float[] writer(Role r, int l) {
            float[] v = raw(r, l);
            long[] s = arch.shape(r, c);
            return arch.weightLayout() == WeightLayout.CONV1D ? v : transpose(v, (int) s[0], (int) s[1]);
        }

        /** Bias values, or zeros of {@code n} when the role is absent. */
        private float[] biasOrZeros(Role r, int l, int n) {
            return arch.has(r, c) ? raw(r, l) : new float[n];
        }

        LayerWeights layer(int l) {
            int d = c.hiddenSize();
            int hd = c.headDim();
            int qRows = c.numHeads() * hd;
            int kvRows = c.numKvHeads() * hd;
            int rows = qRows + 2 * kvRows;
            float[] qkv;
            float[] qkvBias = null;
            if (arch.fusedQkv()) {
                qkv = reader(Role.QKV, l);
                if (arch.has(Role.QKV_BIAS, c)) {
                    qkvBias = raw(Role.QKV_BIAS, l);
                }
                if (arch.fusedQkvPerHead()) {
                    int[] perm = perHeadToBlocks(c.numHeads(), hd);
                    qkv = permuteRows(qkv, d, perm, false);
                    if (qkvBias != null) {
                        qkvBias = permuteRows(qkvBias, 1, perm, false);
                    }
                }
            } else {
                qkv = concat(reader(Role.Q, l), reader(Role.K, l), reader(Role.V, l));
                if (arch.has(Role.Q_BIAS, c) || arch.has(Role.K_BIAS, c) || arch.has(Role.V_BIAS, c)) {
                    qkvBias = concat(biasOrZeros(Role.Q_BIAS, l, qRows), biasOrZeros(Role.K_BIAS, l, kvRows),
                            biasOrZeros(Role.V_BIAS, l, kvRows));
                }
            }
            if (arch.rotary() == RotaryStyle.INTERLEAVED) {
                int[] perm = interleavedToHalf(c.numHeads() + c.numKvHeads(), hd, c.rotaryDim(), rows);
                qkv = permuteRows(qkv, d, perm, false);
                if (qkvBias != null) {
                    qkvBias = permuteRows(qkvBias, 1, perm, false);
                }
            }
            int ffn = c.ffnSize();
            NDArray ffnIn;
            NDArray ffnInBias = null;
            if (arch.fusedGateUp()) {
                ffnIn = array(reader(Role.GATE_UP, l), 2L * ffn, d);
            } else if (arch.gatedMlp()) {
                ffnIn = array(concat(reader(Role.GATE, l), reader(Role.UP, l)), 2L * ffn, d);
                if (arch.has(Role.GATE_BIAS, c) || arch.has(Role.UP_BIAS, c)) {
                    ffnInBias = array(concat(biasOrZeros(Role.GATE_BIAS, l, ffn), biasOrZeros(Role.UP_BIAS, l, ffn)),
                            2L * ffn);
                }
            } else {
                ffnIn = array(reader(Role.UP, l), ffn, d);
                ffnInBias = optional(Role.UP_BIAS, l);
            }
            return new LayerWeights(plain(Role.LN1, l), optional(Role.LN1_BIAS, l),
                    array(qkv, rows, d), qkvBias == null ? null : array(qkvBias, rows),
                    array(writer(Role.O, l), qRows, d), optional(Role.O_BIAS, l),
                    optional(Role.LN2, l), optional(Role.LN2_BIAS, l),
                    ffnIn, ffnInBias, array(writer(Role.DOWN, l), ffn, d), optional(Role.DOWN_BIAS, l),
                    optional(Role.Q_NORM, l), optional(Role.K_NORM, l), optional(Role.LN1_POST, l),
                    optional(Role.LN2_POST, l));
        }
    }

    static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int off = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, off, p.length);
            off += p.length;
        }
        return out;
    }

    static float[] slice(float[] a, int from, int length) {
        float[] out = new float[length];
        System.arraycopy(a, from, out, 0, length);
        return out;
    }

    /** Maps runtime arrays back to checkpoint-layout values. */
    private final class Saver {
        private final Map<String, Target> byName = new LinkedHashMap<>();

        Saver() {
            for (Role r : arch.roles(config)) {
                for (int l = 0; l < (r.perLayer() ? config.numLayers() : 1); l++) {
                    byName.put(r.perLayer() ? arch.tensorName(r, l) : arch.tensorName(r), new Target(r, l));
                }
            }
        }

        Target target(String name) {
            return byName.get(name);
        }

        /** A [out, in] runtime matrix in the checkpoint's orientation. */
        private float[] fromReader(float[] v, int out, int in) {
            return arch.weightLayout() == WeightLayout.LINEAR ? v : transpose(v, out, in);
        }

        /** A [in, out] runtime matrix in the checkpoint's orientation. */
        private float[] fromWriter(float[] v, int in, int out) {
            return arch.weightLayout() == WeightLayout.CONV1D ? v : transpose(v, in, out);
        }

        private float[] qkvRows(int l, boolean bias) {
            LayerWeights w = layers.get(l);
            float[] v = (bias ? w.qkvBias() : w.qkv()).toFloatArray();
            int hd = config.headDim();
            if (arch.rotary() == RotaryStyle.INTERLEAVED) {
                int rows = (config.numHeads() + 2 * config.numKvHeads()) * hd;
                int[] perm = interleavedToHalf(config.numHeads() + config.numKvHeads(), hd, config.rotaryDim(), rows);
                v = permuteRows(v, bias ? 1 : config.hiddenSize(), perm, true);
            }
            if (arch.fusedQkvPerHead()) {
                v = permuteRows(v, bias ? 1 : config.hiddenSize(), perHeadToBlocks(config.numHeads(), hd), true);
            }
            return v;
        }

        float[] values(Role r, int l) {
            int d = config.hiddenSize();
            int hd = config.headDim();
            int qRows = config.numHeads() * hd;
            int kvRows = config.numKvHeads() * hd;
            int ffn = config.ffnSize();
            LayerWeights w = r.perLayer() ? layers.get(l) : null;
            return switch (r) {
                case EMBED -> embed.toFloatArray();
                case POS_EMBED -> posEmbed.toFloatArray();
                case LN_F -> lnF.toFloatArray();
                case LN_F_BIAS -> lnFBias.toFloatArray();
                case LM_HEAD -> unembed.toFloatArray();
                case LM_HEAD_BIAS -> unembedBias.toFloatArray();
                case LN1 -> w.ln1().toFloatArray();
                case LN1_BIAS -> w.ln1Bias().toFloatArray();
                case LN2 -> w.ln2().toFloatArray();
                case LN2_BIAS -> w.ln2Bias().toFloatArray();
                case QKV -> fromReader(qkvRows(l, false), qRows + 2 * kvRows, d);
                case QKV_BIAS -> qkvRows(l, true);
                case Q -> fromReader(slice(qkvRows(l, false), 0, qRows * d), qRows, d);
                case K -> fromReader(slice(qkvRows(l, false), qRows * d, kvRows * d), kvRows, d);
                case V -> fromReader(slice(qkvRows(l, false), (qRows + kvRows) * d, kvRows * d), kvRows, d);
                case Q_BIAS -> slice(qkvRows(l, true), 0, qRows);
                case K_BIAS -> slice(qkvRows(l, true), qRows, kvRows);
                case V_BIAS -> slice(qkvRows(l, true), qRows + kvRows, kvRows);
                case O -> fromWriter(w.o().toFloatArray(), qRows, d);
                case O_BIAS -> w.oBias().toFloatArray();
                case GATE -> fromReader(slice(w.ffnIn().toFloatArray(), 0, ffn * d), ffn, d);
                case GATE_BIAS -> slice(w.ffnInBias().toFloatArray(), 0, ffn);
                case UP -> arch.gatedMlp()
                        ? fromReader(slice(w.ffnIn().toFloatArray(), ffn * d, ffn * d), ffn, d)
                        : fromReader(w.ffnIn().toFloatArray(), ffn, d);
                case UP_BIAS -> arch.gatedMlp()
                        ? slice(w.ffnInBias().toFloatArray(), ffn, ffn)
                        : w.ffnInBias().toFloatArray();
                case DOWN -> fromWriter(w.ffnOut().toFloatArray(), ffn, d);
                case DOWN_BIAS -> w.ffnOutBias().toFloatArray();
                case GATE_UP -> fromReader(w.ffnIn().toFloatArray(), 2 * ffn, d);
                case Q_NORM -> w.qNorm().toFloatArray();
                case K_NORM -> w.kNorm().toFloatArray();
                case LN1_POST -> w.ln1Post().toFloatArray();
                case LN2_POST -> w.ln2Post().toFloatArray();
            };
        }
    }
}
