package org.neurotome.arch;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.Transformer;
import org.neurotome.model.Weights;
import org.junit.jupiter.api.function.Executable;

import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The architecture tables: names, layouts, and strict checking of configs and checkpoints. */
class ArchitectureTest {
    private static Path reference(String name) {
        try {
            return Path.of(ArchitectureTest.class.getResource("/reference/" + name + "/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ObjectNode config(String name) {
        try (Checkpoint c = Checkpoint.open(reference(name))) {
            return c.config().deepCopy();
        }
    }

    private static NeurotomeException fails(ExitCode code, Executable e) {
        NeurotomeException ex = assertThrows(NeurotomeException.class, e);
        assertEquals(code, ex.exitCode(), ex.getMessage());
        return ex;
    }

    @Test
    void tablesNameTensorsPerFamily() {
        assertEquals("model.layers.3.self_attn.o_proj.weight", Architecture.forModelType("llama").tensorName(Role.O, 3));
        assertEquals("transformer.h.1.attn.c_attn.weight", Architecture.forModelType("gpt2").tensorName(Role.QKV, 1));
        assertEquals("transformer.h.0.mlp.fc_out.bias", Architecture.forModelType("gptj").tensorName(Role.DOWN_BIAS, 0));
        assertEquals("lm_head.bias", Architecture.forModelType("gptj").tensorName(Role.LM_HEAD_BIAS));
        assertEquals(List.of("gpt2", "gptj", "llama", "mistral", "qwen2", "qwen3", "gemma2", "phi3", "gpt_neox", "olmo2",
                        "gemma3_text", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe"),
                Architecture.supported());
        for (String type : Architecture.supported()) {
            assertEquals(type, Architecture.forModelType(type).modelType());
        }
        assertEquals(WeightLayout.CONV1D, Architecture.forModelType("gpt2").weightLayout());
        assertTrue(Architecture.forModelType("gptj").parallelBlock());
        assertEquals(RotaryStyle.INTERLEAVED, Architecture.forModelType("gptj").rotary());
    }

    @Test
    void tieRulesFollowTheFamilyDefaults() {
        ObjectNode gpt2 = config("gpt2_tied");
        gpt2.remove("tie_word_embeddings");
        assertTrue(ModelConfig.from(gpt2).tied(), "GPT-2 ties unless told otherwise");
        ObjectNode llama = config("llama_sharded_f16");
        llama.remove("tie_word_embeddings");
        assertTrue(!ModelConfig.from(llama).tied(), "Llama ties only when told to");
        assertEquals(128, ModelConfig.from(config("gpt2_tied")).ffnSize(), "n_inner null means 4·n_embd");
        assertEquals(8, ModelConfig.from(config("gptj_partial_rotary")).rotaryDim());
    }

    @Test
    void configProblemsNameTheKey() {
        ObjectNode bert = Json.MAPPER.createObjectNode().put("model_type", "bert");
        assertTrue(fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(bert)).getMessage()
                .contains("'bert' is not supported; supported: gpt2, gptj, llama, mistral, qwen2, qwen3, gemma2, phi3,"
                        + " gpt_neox, olmo2, gemma3_text, mixtral, qwen2_moe, qwen3_moe, olmoe"));
        ObjectNode noLayers = config("gpt2_tied");
        noLayers.remove("n_layer");
        assertTrue(fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(noLayers)).getMessage()
                .contains("missing key 'n_layer'"));
        ObjectNode scaled = config("llama_sharded_f16");
        scaled.putObject("rope_scaling").put("type", "longrope").put("factor", 2.0);
        assertTrue(fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(scaled)).getMessage().contains("rope_scaling"));
        ObjectNode oddHeads = config("llama_sharded_f16");
        oddHeads.put("num_key_value_heads", 3);
        assertEquals("config.json: num_key_value_heads is 3, which does not divide num_attention_heads 4",
                fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(oddHeads)).getMessage());
    }

    @Test
    void configValuesAreCheckedUnderTheirOwnKeysWithTheFile(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        ObjectNode text = config("llama_sharded_f16");
        text.put("num_hidden_layers", "2");
        assertEquals("config.json: num_hidden_layers must be a whole number, got the text \"2\"",
                fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(text)).getMessage());
        ObjectNode huge = config("llama_sharded_f16");
        huge.put("vocab_size", 3_000_000_000L);
        assertEquals("config.json: vocab_size is 3000000000; allowed: a whole number from 1 to 2147483647",
                fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(huge)).getMessage());
        ObjectNode zero = config("gpt2_tied");
        zero.put("n_head", 0);
        assertEquals("config.json: n_head is 0; allowed: a whole number from 1 to 2147483647",
                fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(zero)).getMessage());
        ObjectNode eos = config("llama_sharded_f16");
        eos.put("eos_token_id", 80);
        assertEquals("config.json: eos_token_id 80 is outside the vocabulary; allowed: a token id from 0 to 79"
                + " (vocab_size 80)", fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(eos)).getMessage());

        Path dir = org.neurotome.model.TinyTokenizer.copyReference("llama_sharded_f16", tmp.resolve("m"));
        ObjectNode fewer = config("llama_sharded_f16");
        fewer.put("num_hidden_layers", 1);
        java.nio.file.Files.writeString(dir.resolve(Checkpoint.CONFIG), fewer.toString());
        try (Checkpoint ck = Checkpoint.open(dir)) {
            ModelConfig c = ModelConfig.from(ck);
            assertEquals(dir + ": tensor 'model.layers.1.input_layernorm.weight' belongs to layer 1, but config.json's"
                    + " num_hidden_layers is 1; the config and the weights disagree",
                    fails(ExitCode.BAD_CHECKPOINT, () -> Architecture.forCheckpoint(ck).validate(ck, c)).getMessage());
        }
        java.nio.file.Files.writeString(dir.resolve(Checkpoint.CONFIG), text.toString());
        try (Checkpoint ck = Checkpoint.open(dir)) {
            assertEquals(dir.resolve(Checkpoint.CONFIG) + ": num_hidden_layers must be a whole number, got the text \"2\"",
                    fails(ExitCode.BAD_CHECKPOINT, () -> ModelConfig.from(ck)).getMessage(), "the file's full path");
        }
    }

    @Test
    void headAndNeuronLayoutsFollowTheStorageOrientation() {
        ModelConfig gqa = ModelConfig.from(config("llama_gqa_tied_bf16"));
        HeadLayout heads = new HeadLayout(Architecture.forModelType("llama"), gqa);
        assertEquals(1, heads.kvHead(5));
        assertArrayEquals(new int[] {3, 4, 5}, heads.queryHeads(1));
        assertEquals(List.of(new TensorSlice("model.layers.2.self_attn.o_proj.weight", 1, 40, 8)), heads.outputSlices(2, 5));
        assertEquals(List.of(new TensorSlice("model.layers.0.self_attn.k_proj.weight", 0, 8, 8)), heads.keySlices(0, 1));

        ModelConfig gpt2 = ModelConfig.from(config("gpt2_tied"));
        HeadLayout fused = new HeadLayout(Architecture.forModelType("gpt2"), gpt2);
        assertEquals(List.of(new TensorSlice("transformer.h.1.attn.c_proj.weight", 0, 16, 8)), fused.outputSlices(1, 2));
        assertEquals(List.of(new TensorSlice("transformer.h.0.attn.c_attn.weight", 1, 32 + 8, 8),
                new TensorSlice("transformer.h.0.attn.c_attn.bias", 0, 32 + 8, 8)), fused.keySlices(0, 1));
        assertEquals(new TensorSlice("transformer.h.0.mlp.c_proj.weight", 0, 7, 1),
                new NeuronLayout(Architecture.forModelType("gpt2"), gpt2).valueSlice(0, 7));
        assertEquals(new TensorSlice("model.layers.1.mlp.down_proj.weight", 1, 7, 1),
                new NeuronLayout(Architecture.forModelType("llama"), gqa).valueSlice(1, 7));
    }

    /** Writes a copy of reference case {@code name} with its tensor list changed by {@code edit}. */
    private static Path copy(String name, Path out, UnaryOperator<List<OutputTensor>> edit) throws Exception {
        try (Checkpoint src = Checkpoint.open(reference(name))) {
            List<OutputTensor> tensors = new ArrayList<>();
            for (String t : src.tensors().keySet()) {
                tensors.add(OutputTensor.copyOf(src, t));
            }
            byte[] config = Json.pretty().writeValueAsString(src.config()).getBytes(StandardCharsets.UTF_8);
            new CheckpointWriter(1L << 30, Map.of(), false).write(out, edit.apply(tensors), Map.of(Checkpoint.CONFIG, config));
        }
        return out;
    }

    private static NeurotomeException loadFails(Path dir) {
        return fails(ExitCode.BAD_CHECKPOINT, () -> {
            try (Checkpoint c = Checkpoint.open(dir); Weights w = Weights.load(c, Device.cpu())) {
                w.config();
            }
        });
    }

    @Test
    void missingAndUnexpectedTensorsAreNamed(@TempDir Path tmp) throws Exception {
        Path missing = copy("gpt2_tied", tmp.resolve("missing"), ts -> ts.stream()
                .filter(t -> !t.name().equals("transformer.h.1.mlp.c_fc.bias")).toList());
        String m = loadFails(missing).getMessage();
        assertTrue(m.contains("missing tensor 'transformer.h.1.mlp.c_fc.bias'") && m.contains("arch/gpt2.yaml"), m);

        Path extra = copy("llama_gqa_tied_bf16", tmp.resolve("extra"), ts -> {
            List<OutputTensor> more = new ArrayList<>(ts);
            more.add(OutputTensor.ofFloats("model.layers.0.self_attn.rogue.weight", DType.F32, new long[] {2}, new float[2]));
            return more;
        });
        assertTrue(loadFails(extra).getMessage().contains("unexpected tensor 'model.layers.0.self_attn.rogue.weight'"));

        Path reshaped = copy("mistral", tmp.resolve("reshaped"), ts -> ts.stream().map(t -> !t.name().equals(
                "model.layers.1.mlp.up_proj.weight") ? t : OutputTensor.ofFloats(t.name(), DType.F32, new long[] {63, 40},
                new float[63 * 40])).toList());
        String r = loadFails(reshaped).getMessage();
        assertTrue(r.contains("'model.layers.1.mlp.up_proj.weight' has shape [63, 40]") && r.contains("[64, 40]"), r);
    }

    @Test
    void gpt2LoadsWithoutTheTransformerPrefixAndWithMaskBuffers(@TempDir Path tmp) throws Exception {
        Path bare = copy("gpt2_tied", tmp.resolve("bare"), ts -> {
            List<OutputTensor> out = new ArrayList<>();
            for (OutputTensor t : ts) {
                out.add(new OutputTensor(t.name().replaceFirst("^transformer\\.", ""), t.dtype(), t.shape(), t.body()));
            }
            out.add(OutputTensor.ofFloats("h.0.attn.bias", DType.F32, new long[] {1, 1, 2, 2}, new float[] {1, 0, 1, 1}));
            return out;
        });
        float[] expected;
        float[] actual;
        try (Checkpoint c = Checkpoint.open(reference("gpt2_tied")); Weights w = Weights.load(c, Device.cpu());
             Transformer t = new Transformer(w); ForwardResult r = t.forward(ForwardRequest.tokens(new int[] {4, 8, 15}))) {
            expected = r.lastLogits(0);
        }
        try (Checkpoint c = Checkpoint.open(bare); Weights w = Weights.load(c, Device.cpu());
             Transformer t = new Transformer(w); ForwardResult r = t.forward(ForwardRequest.tokens(new int[] {4, 8, 15}))) {
            assertEquals("wte.weight", w.architecture().tensorName(Role.EMBED));
            actual = r.lastLogits(0);
        }
        assertArrayEquals(expected, actual);
    }
}
