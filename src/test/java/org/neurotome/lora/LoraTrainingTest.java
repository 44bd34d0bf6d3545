package org.neurotome.lora;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.training.NextTokenLoss;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.ReferenceData;
import org.neurotome.model.Transformer;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The LoRA being trained is the LoRA that is read: with PEFT's adapter as the starting values,
 * the in-graph deltas ({@link LoraParameters}, placed into the runtime's fused rows) give the
 * logits of the same adapter applied to the weights as they are read ({@link LoraSource})
 * within 1e-4, on the layouts that reorder rows (Conv1D, interleaved rotary, per-head fused
 * qkv, fused gate/up, grouped queries). The gradient of the masked loss with respect to one
 * element of every A and B matches central differences (h = 1e-3, within 2e-3 + 2 %).
 */
class LoraTrainingTest {
    private static final List<int[]> ROWS = List.of(new int[] {5, 9, 2, 14, 7, 3, 11, 6}, new int[] {1, 4, 8, 12, 5});
    private static final int[] FIRST = {3, 1};

    @ParameterizedTest
    @ValueSource(strings = {"gpt2_tied", "gptj_partial_rotary", "gpt_neox_parallel", "phi3_fused", "llama_gqa_tied_bf16",
            "qwen3_qk_norm"})
    void trainedDeltasAreTheReadDeltasAndTheirGradientsMatchFiniteDifferences(String name) {
        LoraAdapter adapter = LoraAdapter.read(LoraReference.adapter(name));
        try (LanguageModel base = LanguageModel.open(ReferenceData.caseDir(name), Device.cpu());
             LanguageModel viewed = LanguageModel.open(ReferenceData.caseDir(name), Device.cpu(), MemoryBudget.unlimited(),
                     adapter);
             LoraParameters params = new LoraParameters(base.weights(),
                     adapter.bind(base.weights().architecture(), base.config()));
             Transformer trained = params.transformer()) {
            for (int[] ids : ROWS) {
                float[] a = last(trained, ids);
                float[] b = last(viewed.transformer(), ids);
                for (int v = 0; v < a.length; v++) {
                    assertEquals(b[v], a[v], 1e-4, name + ": logit " + v + " in-graph vs read");
                }
            }
            Map<String, NDArray> arrays = params.arrays();
            try (NDScope scope = new NDScope(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(loss(trained));
            }
            for (Map.Entry<String, NDArray> p : arrays.entrySet()) {
                NDArray param = p.getValue();
                float[] grad = param.getGradient().toFloatArray();
                int index = (int) (param.size() / 3);
                double numeric = numeric(trained, param, index, 1e-3f);
                assertEquals(numeric, grad[index], 2e-3 + 0.02 * Math.abs(numeric),
                        name + ": d loss / d " + p.getKey() + "[" + index + "]");
                double norm = 0;
                for (float g : grad) {
                    norm += g * g;
                }
                assertTrue(norm > 0, name + ": no gradient reached " + p.getKey());
            }
        }
    }

    private static float[] last(Transformer t, int[] ids) {
        try (ForwardResult r = t.forward(ForwardRequest.tokens(ids))) {
            return r.lastLogits(0);
        }
    }

    private static NDArray loss(Transformer t) {
        ForwardResult r = t.forward(ForwardRequest.tokens(ROWS).withAllLogits().forTraining());
        return NextTokenLoss.of(r.logits(), ROWS, FIRST);
    }

    /** (L(θ + h·e_i) − L(θ − h·e_i)) / 2h for element {@code index} of {@code param}. */
    private static double numeric(Transformer t, NDArray param, int index, float h) {
        double[] at = new double[2];
        for (int k = 0; k < 2; k++) {
            try (NDScope scope = new NDScope()) {
                float[] e = new float[(int) param.size()];
                e[index] = k == 0 ? h : -h;
                NDArray delta = param.getManager().create(e, param.getShape()).duplicate();
                param.addi(delta);
                at[k] = loss(t).getFloat();
                param.subi(delta);
            }
        }
        return (at[0] - at[1]) / (2 * h);
    }
}
