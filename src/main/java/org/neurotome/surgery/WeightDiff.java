package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.HeadLayout;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.NeuronLayout;
import org.neurotome.arch.TensorSlice;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.FloatCodec;
import org.neurotome.checkpoint.TensorInfo;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * What changed between two checkpoints of one family: tensors added, removed, reshaped or
 * changed, and — read through the head and neuron layouts — which heads' output
 * projections and which neurons' value vectors are now zero or uniformly scaled. Where a
 * tensor's dtype differs (an output written in BF16), both sides are rounded to the coarser
 * dtype first, so the rounding of the conversion is not reported as an edit.
 */
public final class WeightDiff {
    private WeightDiff() {
    }

    public static ObjectNode diff(Checkpoint a, Checkpoint b) {
        ObjectNode out = Json.MAPPER.createObjectNode();
        out.put("a", a.dir().toString());
        out.put("b", b.dir().toString());
        TreeSet<String> names = new TreeSet<>(a.tensors().keySet());
        names.addAll(b.tensors().keySet());
        ArrayNode tensors = out.putArray("tensors");
        TreeSet<String> changed = new TreeSet<>();
        TreeSet<String> precision = new TreeSet<>();
        for (String n : names) {
            String status;
            if (!b.has(n)) {
                status = "removed";
            } else if (!a.has(n)) {
                status = "added";
            } else if (!Arrays.equals(a.info(n).shape(), b.info(n).shape())) {
                status = "reshaped " + a.info(n).shapeString() + " -> " + b.info(n).shapeString();
            } else if (a.info(n).dtype() != b.info(n).dtype()) {
                DType coarser = coarser(a.info(n).dtype(), b.info(n).dtype());
                status = "dtype " + a.info(n).dtype() + " -> " + b.info(n).dtype();
                if (coarser != null && Arrays.equals(rounded(a.floats(n), coarser), rounded(b.floats(n), coarser))) {
                    status += ", values equal at " + coarser + " precision";
                } else {
                    status += ", values changed";
                    changed.add(n);
                }
                precision.add(coarser == null ? "exact" : coarser.name());
            } else if (a.bytes(n).mismatch(b.bytes(n)) == -1) {
                continue;
            } else {
                status = "changed";
                changed.add(n);
            }
            tensors.addObject().put("name", n).put("status", status);
        }
        if (!precision.isEmpty()) {
            out.put("precision", "tensors whose dtype differs are compared after rounding both sides to the coarser"
                    + " dtype (" + String.join(", ", precision) + "), so rounding alone is not a change");
        }
        ModelConfig ca = ModelConfig.from(a);
        ModelConfig cb = ModelConfig.from(b);
        if (!ca.modelType().equals(cb.modelType())) {
            throw NeurotomeException.badInput("diff compares checkpoints of one family; got " + ca.modelType()
                    + " and " + cb.modelType());
        }
        if (ca.equals(cb)) {
            // heads and neurons are read through the config: it must describe the tensors (a config
            // claiming 2^31 layers would otherwise be walked layer by layer)
            Architecture arch = Architecture.forCheckpoint(a);
            arch.validate(a, ca);
            Architecture.forCheckpoint(b).validate(b, cb);
            HeadLayout heads = new HeadLayout(arch, ca);
            NeuronLayout neurons = new NeuronLayout(arch, ca);
            Map<String, float[][]> cache = new HashMap<>();
            ArrayNode h = out.putArray("heads");
            for (int l = 0; l < ca.numLayers(); l++) {
                for (int k = 0; k < ca.numHeads(); k++) {
                    for (TensorSlice s : heads.outputSlices(l, k)) {
                        report(h, "head", l + "." + k, s, a, b, changed, cache);
                    }
                }
            }
            ArrayNode m = out.putArray("neurons");
            for (int l = 0; l < ca.numLayers(); l++) {
                // a fused experts tensor (transformers v5) is 3-D: its units are not reported one by one
                boolean fused = ca.sparseLayer(l) && arch.fusedExperts();
                for (int k = 0; !fused && k < ca.ffnWidth(l); k++) {
                    report(m, "neuron", l + "." + k, neurons.valueSlice(l, k), a, b, changed, cache);
                }
            }
        } else {
            out.put("note", "the configs differ (e.g. a compacted checkpoint); heads and neurons are not matched");
        }
        return out;
    }

    private static void report(ArrayNode list, String key, String id, TensorSlice s, Checkpoint a, Checkpoint b,
                               TreeSet<String> changed, Map<String, float[][]> cache) {
        if (!changed.contains(s.tensor())) {
            return;
        }
        DType coarser = coarser(a.info(s.tensor()).dtype(), b.info(s.tensor()).dtype());
        float[][] ab = cache.computeIfAbsent(s.tensor(),
                t -> new float[][] {rounded(a.floats(t), coarser), rounded(b.floats(t), coarser)});
        TensorInfo info = a.info(s.tensor());
        long cols = info.shape().length == 2 ? info.shape()[1] : 1;
        long rows = info.shape()[0];
        long outer = s.axis() == 0 ? cols : rows;
        int n = (int) (s.length() * outer);
        float[] x = new float[n];
        float[] y = new float[n];
        int p = 0;
        for (long i = s.start(); i < s.end(); i++) {
            for (long j = 0; j < outer; j++, p++) {
                int idx = (int) (s.axis() == 0 ? i * cols + j : j * cols + i);
                x[p] = ab[0][idx];
                y[p] = ab[1][idx];
            }
        }
        if (Arrays.equals(x, y)) {
            return;
        }
        double dot = 0;
        double xx = 0;
        double yy = 0;
        for (int i = 0; i < n; i++) {
            dot += (double) x[i] * y[i];
            xx += (double) x[i] * x[i];
            yy += (double) y[i] * y[i];
        }
        ObjectNode e = list.addObject().put(key, id);
        double factor = xx == 0 ? Double.NaN : dot / xx;
        double residual = 0;
        for (int i = 0; i < n; i++) {
            double r = y[i] - factor * x[i];
            residual += r * r;
        }
        if (yy == 0) {
            e.put("change", "zeroed");
        } else if (xx > 0 && residual <= scaleTolerance(coarser != null ? coarser : info.dtype()) * yy) {
            e.put("change", "scaled").put("factor", Math.round(factor * 1e4) / 1e4);
        } else {
            e.put("change", "changed");
        }
    }

    /**
     * How far (squared, relative) a uniformly scaled slice may stray from an exact multiple:
     * rounding to BF16 or F16 after scaling moves each element by up to half a unit in the last place.
     */
    private static double scaleTolerance(DType stored) {
        return stored == DType.BF16 ? 1e-4 : stored == DType.F16 ? 4e-6 : 1e-6;
    }

    /** Float dtypes from coarsest to finest mantissa. */
    private static final java.util.List<DType> PRECISION = java.util.List.of(DType.BF16, DType.F16, DType.F32, DType.F64);

    /** The coarser of two float dtypes (null when either is not a float dtype, or they are the same). */
    private static DType coarser(DType x, DType y) {
        if (x == y || !PRECISION.contains(x) || !PRECISION.contains(y)) {
            return null;
        }
        return PRECISION.indexOf(x) < PRECISION.indexOf(y) ? x : y;
    }

    /** {@code values} rounded to {@code dtype} (round to nearest even, as the writer rounds); null: unchanged. */
    private static float[] rounded(float[] values, DType dtype) {
        if (dtype != DType.BF16 && dtype != DType.F16) {
            return values;
        }
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = dtype == DType.BF16 ? FloatCodec.bf16ToFloat(FloatCodec.floatToBf16(values[i]))
                    : FloatCodec.f16ToFloat(FloatCodec.floatToF16(values[i]));
        }
        return out;
    }
}
