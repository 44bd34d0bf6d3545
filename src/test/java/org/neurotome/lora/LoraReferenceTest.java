package org.neurotome.lora;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.FloatCodec;
import org.neurotome.checkpoint.SafetensorsFile;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.ReferenceData;
import org.neurotome.model.Residency;
import org.neurotome.model.Weights;
import org.neurotome.surgery.MergeLora;
import org.neurotome.surgery.Surgeon;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PEFT's own adapters on every family (GPT-2's Conv1D layout, fused qkv_proj, gate_up_proj
 * and per-head query_key_value included; rank and alpha patterns, rsLoRA, layers_to_transform,
 * a regular-expression target and exclude_modules among the cases):
 * <ul>
 *   <li>{@code merge-lora} writes W + (α/r)·B·A (α/√r with rsLoRA), computed here
 *       independently in double from the adapter's raw tensors and its config, within 1e-6 of
 *       the magnitudes involved (|W| + Σ|scale·B·A terms|), in the tensor's stored layout;
 *       every other tensor is unchanged;</li>
 *   <li>the model read through the adapter ({@code --adapter}) gives PEFT's logits within
 *       1e-4·max(1, |logit|), the logits of its merged checkpoint within 1e-4, and the same
 *       logits kept and streamed within 1e-5.</li>
 * </ul>
 */
class LoraReferenceTest {
    static List<String> cases() {
        return LoraReference.cases();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void mergeWritesTheIndependentlyComputedSum(String name, @TempDir Path tmp) {
        Path merged = merge(name, tmp);
        JsonNode cfg = LoraReference.expected(name).path("config");
        boolean conv1d = ReferenceData.expected(name).path("model_type").asText().equals("gpt2");
        Map<String, float[][]> ab = new HashMap<>();
        Map<String, long[][]> shapes = new HashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(LoraReference.adapter(name).resolve("adapter_model.safetensors"))) {
            for (TensorInfo t : f.tensors().values()) {
                String n = t.name().substring("base_model.model.".length());
                boolean isA = n.endsWith(".lora_A.weight");
                String module = n.substring(0, n.length() - ".lora_A.weight".length());
                ab.computeIfAbsent(module, k -> new float[2][])[isA ? 0 : 1] =
                        FloatCodec.decode(f.bytes(t), t.dtype(), (int) t.numel());
                shapes.computeIfAbsent(module, k -> new long[2][])[isA ? 0 : 1] = t.shape();
            }
        }
        int adapted = 0;
        try (Checkpoint in = Checkpoint.open(ReferenceData.caseDir(name)); Checkpoint out = Checkpoint.open(merged)) {
            assertEquals(in.tensors().keySet(), out.tensors().keySet(), name);
            for (String tensor : in.tensors().keySet()) {
                float[] w = in.floats(tensor);
                float[] got = out.floats(tensor);
                assertEquals(DType.F32, out.info(tensor).dtype());
                String module = moduleOf(tensor, ab);
                if (module == null) {
                    assertArrayEquals(w, got, name + ": " + tensor + " is not adapted and must be unchanged");
                    continue;
                }
                adapted++;
                float[] a = ab.get(module)[0];
                float[] b = ab.get(module)[1];
                int r = (int) shapes.get(module)[0][0];
                int inF = (int) shapes.get(module)[0][1];
                int outF = (int) shapes.get(module)[1][0];
                double scale = alpha(cfg, module) / (cfg.path("use_rslora").asBoolean() ? Math.sqrt(r) : r);
                long[] stored = in.info(tensor).shape();
                assertArrayEquals(conv1d ? new long[] {inF, outF} : new long[] {outF, inF}, stored, tensor);
                for (int o = 0; o < outF; o++) {
                    for (int i = 0; i < inF; i++) {
                        double delta = 0;
                        double size = 0;
                        for (int k = 0; k < r; k++) {
                            double term = scale * b[o * r + k] * a[k * inF + i];
                            delta += term;
                            size += Math.abs(term);
                        }
                        int at = conv1d ? i * outF + o : o * inF + i;
                        double want = w[at] + delta;
                        assertEquals(want, got[at], 1e-6 * (Math.abs(w[at]) + size) + 1e-30,
                                name + ": " + tensor + "[" + (conv1d ? i + ", " + o : o + ", " + i) + "]");
                    }
                }
            }
        }
        assertEquals(ab.size(), adapted, name + ": every adapted module's tensor was checked");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void theAdapterGivesPeftsLogitsAndThoseOfTheMergedCheckpoint(String name, @TempDir Path tmp) {
        Path merged = merge(name, tmp);
        LoraAdapter adapter = LoraAdapter.read(LoraReference.adapter(name));
        Path dir = ReferenceData.caseDir(name);
        MemoryBudget tight;
        try (Checkpoint ck = Checkpoint.open(dir)) {
            tight = MemoryBudget.of(Residency.streamingFloor(ck) + 1024, "a test budget");
        }
        try (LanguageModel kept = LanguageModel.open(dir, Device.cpu(), MemoryBudget.unlimited(), adapter);
             LanguageModel streamed = LanguageModel.open(dir, Device.cpu(), tight, adapter);
             LanguageModel m = LanguageModel.open(merged, Device.cpu())) {
            assertTrue(streamed.weights().streaming(), name + ": streamed");
            for (JsonNode p : LoraReference.expected(name).path("prompts")) {
                int[] ids = ReferenceData.ints(p.path("ids"));
                float[] withAdapter = last(kept, ids);
                float[] peft = ReferenceData.floats(p.path("logits"));
                float[] fromMerged = last(m, ids);
                float[] fromStreamed = last(streamed, ids);
                for (int v = 0; v < peft.length; v++) {
                    String at = name + " " + java.util.Arrays.toString(ids) + " logit " + v;
                    assertEquals(peft[v], withAdapter[v], 1e-4 * Math.max(1, Math.abs(peft[v])), at + " vs PEFT");
                    assertEquals(fromMerged[v], withAdapter[v], 1e-4, at + " vs the merged checkpoint");
                    assertEquals(withAdapter[v], fromStreamed[v], 1e-5, at + " streamed vs kept");
                }
            }
        }
    }

    private static float[] last(LanguageModel m, int[] ids) {
        try (ForwardResult r = m.transformer().forward(ForwardRequest.tokens(ids))) {
            return r.lastLogits(0);
        }
    }

    /** The reference checkpoint with the case's adapter merged, stored as F32. */
    static Path merge(String name, Path tmp) {
        Path out = tmp.resolve("merged");
        try (Checkpoint in = Checkpoint.open(ReferenceData.caseDir(name))) {
            Surgeon.apply(in, List.of(new MergeLora(LoraAdapter.read(LoraReference.adapter(name)), 1.0)),
                    new Surgeon.Options(out, DType.F32, Long.MAX_VALUE, false, Map.of(), Map.of(), Map.of()));
        }
        return out;
    }

    /** The adapted module whose weight {@code tensor} is (GPT-2 checkpoints may drop the "transformer." prefix). */
    private static String moduleOf(String tensor, Map<String, float[][]> modules) {
        if (!tensor.endsWith(".weight")) {
            return null;
        }
        String m = tensor.substring(0, tensor.length() - ".weight".length());
        if (modules.containsKey(m)) {
            return m;
        }
        return modules.containsKey("transformer." + m) ? "transformer." + m : null;
    }

    /** The case's α for {@code module}: its alpha_pattern entry (by name suffix), else lora_alpha. */
    private static double alpha(JsonNode cfg, String module) {
        var it = cfg.path("alpha_pattern").fields();
        while (it.hasNext()) {
            var e = it.next();
            if (module.endsWith("." + e.getKey())) {
                return e.getValue().asDouble();
            }
        }
        return cfg.path("lora_alpha").asDouble();
    }
}
