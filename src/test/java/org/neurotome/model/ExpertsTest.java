package org.neurotome.model;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.checkpoint.TensorInfo;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mixture-of-experts checkpoints beyond the reference's own files: the fused per-layer experts
 * transformers v5 writes ({@code mlp.experts.gate_up_proj} [E, 2I, D], {@code down_proj}
 * [E, D, I], Mixtral's {@code block_sparse_moe} renamed {@code mlp}) run as the per-expert
 * checkpoint they were made from and are written back fused, and what the tables do not cover
 * is refused naming the key.
 */
class ExpertsTest {
    /** The reference Mixtral with every layer's experts fused and renamed as transformers v5 stores them. */
    private static Path fusedMixtral(Path tmp) throws Exception {
        Path out = tmp.resolve("fused");
        try (Checkpoint src = Checkpoint.open(ReferenceData.caseDir("mixtral_moe"))) {
            ModelConfig c = ModelConfig.from(src.config());
            int e = c.features().experts().count();
            int w = c.features().experts().width();
            int d = c.hiddenSize();
            List<OutputTensor> tensors = new ArrayList<>();
            for (TensorInfo t : src.tensors().values()) {
                if (!t.name().contains(".experts.") && !t.name().contains(".gate.")) {
                    tensors.add(OutputTensor.ofLazyFloats(t.name(), DType.F32, t.shape(), () -> src.floats(t.name())));
                }
            }
            for (int l = 0; l < c.numLayers(); l++) {
                String moe = "model.layers." + l + ".block_sparse_moe.";
                String mlp = "model.layers." + l + ".mlp.";
                float[] gateUp = new float[e * 2 * w * d];
                float[] down = new float[e * d * w];
                for (int x = 0; x < e; x++) {
                    System.arraycopy(src.floats(moe + "experts." + x + ".w1.weight"), 0, gateUp, 2 * x * w * d, w * d);
                    System.arraycopy(src.floats(moe + "experts." + x + ".w3.weight"), 0, gateUp, (2 * x + 1) * w * d, w * d);
                    System.arraycopy(src.floats(moe + "experts." + x + ".w2.weight"), 0, down, x * d * w, d * w);
                }
                float[] router = src.floats(moe + "gate.weight");
                tensors.add(OutputTensor.ofLazyFloats(mlp + "gate.weight", DType.F32, new long[] {e, d}, () -> router));
                tensors.add(OutputTensor.ofLazyFloats(mlp + "experts.gate_up_proj", DType.F32, new long[] {e, 2L * w, d},
                        () -> gateUp));
                tensors.add(OutputTensor.ofLazyFloats(mlp + "experts.down_proj", DType.F32, new long[] {e, d, w},
                        () -> down));
            }
            byte[] config = Json.pretty().writeValueAsString(src.config()).getBytes(StandardCharsets.UTF_8);
            new CheckpointWriter(1L << 30, Map.of("format", "pt"), false).write(out, tensors,
                    Map.of(Checkpoint.CONFIG, config));
        }
        return out;
    }

    @Test
    void fusedExpertsRunAsPerExpertOnesAndAreWrittenBackFused(@TempDir Path tmp) throws Exception {
        Path fused = fusedMixtral(tmp);
        int[] ids = ReferenceData.ints(ReferenceData.expected("mixtral_moe").path("prompts").get(2).path("ids"));
        float[] perExpert;
        try (Checkpoint ck = Checkpoint.open(ReferenceData.caseDir("mixtral_moe"));
             Weights w = Weights.load(ck, Device.cpu()); Transformer t = new Transformer(w);
             ForwardResult r = t.forward(ForwardRequest.tokens(ids))) {
            perExpert = r.lastLogits(0);
        }
        try (Checkpoint ck = Checkpoint.open(fused)) {
            assertTrue(Architecture.forCheckpoint(ck).fusedExperts());
            for (MemoryBudget budget : List.of(MemoryBudget.unlimited(), StreamingTest.tight(ck))) {
                try (Weights w = Weights.load(ck, Device.cpu(), budget); Transformer t = new Transformer(w);
                     ForwardResult r = t.forward(ForwardRequest.tokens(ids))) {
                    ReferenceConformanceTest.assertClose("fused experts, streamed " + w.streaming(), perExpert,
                            r.lastLogits(0), 1e-6, false);
                }
            }
            Path back = tmp.resolve("back");
            try (Weights w = Weights.load(ck, Device.cpu())) {
                new CheckpointWriter(1L << 30, Map.of("format", "pt"), false).write(back,
                        CheckpointTensors.of(w, DType.F32), Map.of(Checkpoint.CONFIG, Files.readAllBytes(
                                fused.resolve(Checkpoint.CONFIG))));
            }
            try (Checkpoint b = Checkpoint.open(back)) {
                assertEquals(ck.tensors().keySet(), b.tensors().keySet());
                for (String name : ck.tensors().keySet()) {
                    assertEquals(java.util.Arrays.toString(ck.floats(name)), java.util.Arrays.toString(b.floats(name)),
                            name);
                }
            }
        }
    }

    /**
     * Streamed, a sparse layer reads only the experts its router selected for the batch: one
     * position reads exactly top-k experts per sparse layer, and a batch of prompts at most all
     * of them, with the logits of the kept weights.
     */
    @Test
    void aStreamedForwardReadsOnlyTheSelectedExperts() {
        for (String name : List.of("qwen3_moe", "qwen2_moe_shared")) {
            com.fasterxml.jackson.databind.JsonNode expected = ReferenceData.expected(name);
            int[] one = ReferenceData.ints(expected.path("prompts").get(0).path("ids"));
            int sparse = expected.path("moe").path("sparse_layers").size();
            int topK = expected.path("moe").path("top_k").asInt();
            float[] kept;
            try (Checkpoint ck = Checkpoint.open(ReferenceData.caseDir(name)); Weights w = Weights.load(ck, Device.cpu());
                 Transformer t = new Transformer(w); ForwardResult r = t.forward(ForwardRequest.tokens(one))) {
                kept = r.lastLogits(0);
                assertEquals(0, w.expertsRead(), "kept weights hold every expert");
            }
            try (Checkpoint ck = Checkpoint.open(ReferenceData.caseDir(name));
                 Weights w = Weights.load(ck, Device.cpu(), StreamingTest.tight(ck)); Transformer t = new Transformer(w)) {
                assertTrue(w.streaming());
                try (ForwardResult r = t.forward(ForwardRequest.tokens(one))) {
                    ReferenceConformanceTest.assertClose(name + " streamed", kept, r.lastLogits(0), 1e-6, false);
                }
                assertEquals((long) sparse * topK, w.expertsRead(), name + ": one position reads top-k experts a layer");
            }
        }
    }

    private static ObjectNode config(String name) throws Exception {
        return (ObjectNode) Json.MAPPER.readTree(ReferenceData.caseDir(name).resolve("config.json").toFile());
    }

    private static String refused(ObjectNode config) {
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> ModelConfig.from(config));
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
        return e.getMessage();
    }

    @Test
    void whatTheTablesDoNotCoverIsRefusedNamingTheKey() throws Exception {
        ObjectNode scaled = config("mixtral_moe");
        scaled.putObject("rope_scaling").put("rope_type", "linear").put("factor", 2.0);
        assertTrue(refused(scaled).contains("rope_scaling"));
        ObjectNode fp8 = config("qwen3_moe");
        fp8.putObject("quantization_config").put("quant_method", "fp8").putArray("weight_block_size").add(128).add(128);
        assertTrue(refused(fp8).contains("quantization_config"));
        ObjectNode grouped = config("qwen2_moe_shared");
        grouped.put("n_group", 8).put("topk_group", 4);
        assertTrue(refused(grouped).contains("n_group"));
        ObjectNode tooMany = config("olmoe_clip");
        tooMany.put("num_experts_per_tok", 9);
        assertEquals("config.json: num_experts_per_tok is 9; allowed: a whole number from 1 to num_experts 8",
                refused(tooMany));
        ObjectNode badDense = config("qwen2_moe_shared");
        badDense.putArray("mlp_only_layers").add(3);
        assertEquals("config.json: mlp_only_layers lists 3; allowed: layers 0 to 2", refused(badDense));
        ObjectNode window = config("qwen3_moe");
        window.put("use_sliding_window", true);
        assertTrue(refused(window).contains("use_sliding_window"));
    }

    @Test
    void expertNeuronsAreNumberedExpertMajorWithTheSharedExpertLast() throws Exception {
        ModelConfig q = ModelConfig.from(config("qwen2_moe_shared"));
        assertEquals(8 * 12 + 24, q.ffnWidth(0));
        assertEquals(48, q.ffnWidth(1), "mlp_only_layers [1] keeps a dense FFN");
        assertEquals(List.of(true, false, true), List.of(q.sparseLayer(0), q.sparseLayer(1), q.sparseLayer(2)));
        ObjectNode step = config("qwen2_moe_shared");
        step.putArray("mlp_only_layers");
        step.put("decoder_sparse_step", 2);
        ModelConfig s = ModelConfig.from(step);
        assertEquals(List.of(false, true, false), List.of(s.sparseLayer(0), s.sparseLayer(1), s.sparseLayer(2)),
                "decoder_sparse_step 2: layers with (l + 1) % 2 == 0 are sparse");
    }
}
