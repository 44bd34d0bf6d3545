package org.neurotome.arch;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Checkpoint;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The settings of the Qwen3, Gemma 2, Phi-3 and GPT-NeoX tables and of rope scaling, with the
 * defaults transformers' config classes apply, and the refusals (exit 3) of what neurotome
 * does not run, each naming the key, the value and what is supported.
 */
class FamilyConfigTest {
    private static ObjectNode config(String name) {
        try (Checkpoint c = Checkpoint.open(Path.of("src/test/resources/reference").resolve(name))) {
            return c.config().deepCopy();
        }
    }

    private static String refused(ObjectNode config) {
        Executable read = () -> ModelConfig.from(config);
        NeurotomeException e = assertThrows(NeurotomeException.class, read);
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode(), e.getMessage());
        return e.getMessage();
    }

    @Test
    void readsEachNewFamilysSettings() {
        ModelConfig qwen3 = ModelConfig.from(config("qwen3_qk_norm"));
        assertEquals(12, qwen3.headDim(), "explicit head_dim, H·hd = 48 ≠ hidden 32");
        assertEquals(12, qwen3.features().queryPreAttnScalar(), "scores over √head_dim");
        ObjectNode noHeadDim = config("qwen3_qk_norm");
        noHeadDim.remove("head_dim");
        assertEquals(128, ModelConfig.from(noHeadDim).headDim(), "Qwen3Config's default head_dim");

        ModelConfig gemma = ModelConfig.from(config("gemma2_softcap_window"));
        assertEquals(12, gemma.features().queryPreAttnScalar());
        assertEquals(5, gemma.features().attnSoftcap());
        assertEquals(10, gemma.features().finalSoftcap());
        assertEquals(4, gemma.slidingWindow());
        assertTrue(gemma.tied());
        assertTrue(gemma.localLayer(0) && !gemma.localLayer(1) && gemma.localLayer(2));
        ObjectNode uncapped = config("gemma2_softcap_window");
        uncapped.putNull("final_logit_softcapping");
        uncapped.remove("attn_logit_softcapping");
        ModelConfig u = ModelConfig.from(uncapped);
        assertEquals(0, u.features().finalSoftcap(), "an explicit null means no final soft-cap");
        assertEquals(50, u.features().attnSoftcap(), "Gemma2Config's default attention soft-cap");

        ModelConfig neox = ModelConfig.from(config("gpt_neox_parallel"));
        assertEquals(2, neox.rotaryDim(), "rotary_pct 0.25 of head_dim 8");
        assertTrue(neox.features().parallelResidual());
        ObjectNode sequential = config("gpt_neox_parallel");
        sequential.put("use_parallel_residual", false);
        assertFalse(ModelConfig.from(sequential).features().parallelResidual());
        assertTrue(ModelConfig.from(config("gptj_partial_rotary")).features().parallelResidual(), "GPT-J's table block");
        assertFalse(ModelConfig.from(config("llama_sharded_f16")).features().parallelResidual());

        ModelConfig phi3 = ModelConfig.from(config("phi3_fused"));
        assertEquals(8, phi3.rotaryDim(), "no partial_rotary_factor: the whole head");
        ObjectNode partial = config("phi3_fused");
        partial.put("partial_rotary_factor", 0.75);
        assertEquals(6, ModelConfig.from(partial).rotaryDim(), "int(8 × 0.75)");
        assertEquals(0, phi3.slidingWindow(), "sliding_window null: no window");
    }

    @Test
    void writesNoWindowAsNullWhereTransformersWouldReadZeroAsAWindow() {
        for (String name : new String[] {"mixtral_moe", "mistral", "phi3_fused"}) {
            ObjectNode unwindowed = config(name);
            unwindowed.putNull("sliding_window");
            ModelConfig c = ModelConfig.from(unwindowed);
            assertEquals(0, c.slidingWindow(), name);
            ObjectNode written = c.toConfigJson();
            assertTrue(written.get("sliding_window").isNull(), name + " writes " + written.get("sliding_window"));
            assertEquals(c, ModelConfig.from(written), name + " reads back what it wrote");
        }
        ModelConfig gemma = ModelConfig.from(config("gemma2_softcap_window"));
        assertEquals(gemma.slidingWindow(), gemma.toConfigJson().get("sliding_window").asInt(),
                "a real window is written as its size");
    }

    @Test
    void refusesWhatItDoesNotRunNamingTheKeyAndTheSupportedValues() {
        ObjectNode longrope = config("phi3_fused");
        longrope.putObject("rope_scaling").put("type", "longrope").putArray("short_factor").add(1.0);
        String m = refused(longrope);
        assertTrue(m.contains("rope_scaling.type is 'longrope'") && m.contains("phi3")
                && m.contains("supported: none (rope_scaling must be null)"), m);

        ObjectNode gemmaLinear = config("gemma2_softcap_window");
        gemmaLinear.putObject("rope_scaling").put("rope_type", "linear").put("factor", 2.0);
        assertTrue(refused(gemmaLinear).contains("for gemma2 (arch/gemma2.yaml); supported: none"));
        ObjectNode neoxDynamic = config("gpt_neox_parallel");
        neoxDynamic.putObject("rope_scaling").put("type", "dynamic").put("factor", 2.0);
        assertTrue(refused(neoxDynamic).contains("'dynamic', which neurotome does not run for gpt_neox"));

        ObjectNode llamaSu = config("llama3_rope_scaling");
        llamaSu.putObject("rope_scaling").put("rope_type", "su").put("factor", 2.0);
        assertTrue(refused(llamaSu).contains("supported: null, linear, dynamic, llama3, yarn"));
        ObjectNode noLow = config("llama3_rope_scaling");
        ((ObjectNode) noLow.get("rope_scaling")).remove("low_freq_factor");
        assertTrue(refused(noLow).contains("rope_scaling.low_freq_factor is missing; rope_scaling type 'llama3' needs it"));
        ObjectNode badFactor = config("llama3_rope_scaling");
        ((ObjectNode) badFactor.get("rope_scaling")).put("factor", "8");
        assertTrue(refused(badFactor).contains("rope_scaling.factor must be a positive number, got \"8\""));

        ObjectNode oddNeox = config("gpt_neox_parallel");
        oddNeox.put("rotary_pct", 0.375);
        String odd = refused(oddNeox);
        assertTrue(odd.contains("rotary_pct 0.375 × head_dim 8 gives 3 rotary dimensions") && odd.contains("even"), odd);
        ObjectNode oddGptj = config("gptj_partial_rotary");
        oddGptj.put("rotary_dim", 7);
        assertTrue(refused(oddGptj).contains("rotary_dim 7; rotary embeddings need an even number"));

        ObjectNode windowed = config("qwen3_qk_norm");
        windowed.put("use_sliding_window", true);
        assertTrue(refused(windowed).contains("use_sliding_window"));

        ObjectNode gemmaTypes = config("gemma2_softcap_window");
        gemmaTypes.putArray("layer_types").add("sliding_attention").add("full_attention").add("sliding_attention");
        assertEquals(4, ModelConfig.from(gemmaTypes).slidingWindow(), "the alternation transformers writes is accepted");
        gemmaTypes.putArray("layer_types").add("full_attention").add("sliding_attention").add("sliding_attention");
        assertTrue(refused(gemmaTypes).contains("layer_types is [\"full_attention\",\"sliding_attention\",\"sliding_attention\"]"));
    }

    @Test
    void readsOlmo2AndGemma3SettingsWithTheirConfigClassDefaults() {
        ModelConfig olmo = ModelConfig.from(config("olmo2"));
        assertTrue(olmo.architecture().postNormsOnly() && olmo.architecture().qkNormWhole());
        ObjectNode bare = config("olmo2");
        for (String k : new String[] {"rms_norm_eps", "num_key_value_heads", "max_position_embeddings", "rope_theta"}) {
            bare.remove(k);
        }
        ModelConfig d = ModelConfig.from(bare);
        assertEquals(1e-5, d.normEps(), "Olmo2Config's rms_norm_eps");
        assertEquals(4, d.numKvHeads(), "num_key_value_heads null: as many as the query heads");
        assertEquals(2048, d.maxPositions());
        assertEquals(8, d.headDim(), "hidden_size / num_attention_heads");

        ModelConfig gemma = ModelConfig.from(config("gemma3_text"));
        assertEquals(16, gemma.features().queryPreAttnScalar());
        assertEquals(5, gemma.features().finalSoftcap());
        assertEquals(0, gemma.features().attnSoftcap());
        assertEquals(1e4, gemma.features().ropeLocalTheta());
        assertEquals(3, gemma.features().windowPattern());
        assertEquals(8, gemma.features().ropeScaling().factor());
        assertTrue(gemma.localLayer(0) && gemma.localLayer(1) && !gemma.localLayer(2));
        ObjectNode plain = config("gemma3_text");
        for (String k : new String[] {"sliding_window_pattern", "rope_local_base_freq", "final_logit_softcapping",
                "query_pre_attn_scalar", "sliding_window"}) {
            plain.remove(k);
        }
        ModelConfig g = ModelConfig.from(plain);
        assertEquals(6, g.features().windowPattern(), "Gemma3TextConfig's sliding_window_pattern");
        assertEquals(1e4, g.features().ropeLocalTheta());
        assertEquals(0, g.features().finalSoftcap(), "final_logit_softcapping defaults to null: none");
        assertEquals(256, g.features().queryPreAttnScalar());
        assertEquals(4096, g.slidingWindow());
        ObjectNode types = config("gemma3_text");
        types.putArray("layer_types").add("sliding_attention").add("sliding_attention").add("full_attention");
        assertEquals(3, ModelConfig.from(types).features().windowPattern(), "the pattern transformers writes");
    }

    @Test
    void refusesWhatOlmo2AndGemma3DoNotRun() {
        ObjectNode olmoScaled = config("olmo2");
        olmoScaled.putObject("rope_scaling").put("rope_type", "linear").put("factor", 2.0);
        assertTrue(refused(olmoScaled).contains("for olmo2 (arch/olmo2.yaml); supported: none"));
        ObjectNode gemmaYarn = config("gemma3_text");
        gemmaYarn.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 2.0);
        assertTrue(refused(gemmaYarn).contains("'yarn', which neurotome does not run for gemma3_text"));
        ObjectNode capped = config("gemma3_text");
        capped.put("attn_logit_softcapping", 50.0);
        String m = refused(capped);
        assertTrue(m.contains("attn_logit_softcapping is 50.0") && m.contains("= null"), m);
        ObjectNode zero = config("gemma3_text");
        zero.put("sliding_window_pattern", 0);
        assertTrue(refused(zero).contains("sliding_window_pattern is 0"));
        ObjectNode types = config("gemma3_text");
        types.putArray("layer_types").add("sliding_attention").add("full_attention").add("full_attention");
        assertTrue(refused(types).contains("layer_types is"));
    }
}
