package org.neurotome.lora;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.neurotome.Json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which modules an adapter_config.json selects, and with which rank, α and scale, decided as
 * PEFT 0.21 decides (check_target_module_exists, get_pattern_key, LoraLayer.update_layer): each
 * expectation below is what PEFT's code gives for the same config and module path.
 */
class LoraConfigTest {
    private static LoraConfig config(String json) {
        try {
            JsonNode n = Json.MAPPER.readTree(json.replace('\'', '"'));
            return LoraConfig.parse("adapter_config.json", n);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aListOfNamesMatchesWholePathSegmentsAtTheEnd() {
        LoraConfig c = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': ['q_proj', 'c_proj']}");
        assertTrue(c.targets("model.layers.0.self_attn.q_proj"));
        assertFalse(c.targets("model.layers.0.self_attn.xq_proj"));
        assertFalse(c.targets("model.layers.0.self_attn.k_proj"));
        assertTrue(c.targets("transformer.h.3.attn.c_proj"));
        assertTrue(c.targets("transformer.h.3.mlp.c_proj"), "a suffix names every module that ends with it");
        assertTrue(c.targets("q_proj"), "a name equal to the whole path");
    }

    @Test
    void layersToTransformReadTheFirstNumberedSegmentOrTheOneAfterTheLayersPattern() {
        LoraConfig first = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': ['c_attn'],"
                + " 'layers_to_transform': [1, 3]}");
        assertTrue(first.targets("transformer.h.1.attn.c_attn"));
        assertTrue(first.targets("transformer.h.3.attn.c_attn"));
        assertFalse(first.targets("transformer.h.2.attn.c_attn"));
        LoraConfig single = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': ['q_proj'],"
                + " 'layers_to_transform': 2, 'layers_pattern': 'layers'}");
        assertTrue(single.targets("model.layers.2.self_attn.q_proj"));
        assertFalse(single.targets("model.layers.12.self_attn.q_proj"));
        LoraConfig wrongPattern = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': ['q_proj'],"
                + " 'layers_to_transform': [2], 'layers_pattern': ['blocks']}");
        assertFalse(wrongPattern.targets("model.layers.2.self_attn.q_proj"), "no 'blocks.<n>.' in the path");
    }

    @Test
    void aStringIsARegularExpressionOverTheWholePathAndLayersDoNotNarrowIt() {
        LoraConfig c = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16,"
                + " 'target_modules': '.*\\\\.(q_proj|v_proj)', 'layers_to_transform': [0]}");
        assertTrue(c.targets("model.layers.5.self_attn.v_proj"), "PEFT applies layers_to_transform to lists only");
        assertFalse(c.targets("model.layers.5.self_attn.o_proj"));
        assertFalse(c.targets("model.layers.5.self_attn.q_proj.extra"));
        LoraConfig all = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': 'all-linear'}");
        assertTrue(all.targets("gpt_neox.layers.0.attention.query_key_value"));
    }

    @Test
    void excludedModulesAreNeverTargeted() {
        LoraConfig list = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': ['q_proj'],"
                + " 'exclude_modules': ['model.layers.1.self_attn.q_proj']}");
        assertTrue(list.targets("model.layers.0.self_attn.q_proj"));
        assertFalse(list.targets("model.layers.1.self_attn.q_proj"));
        LoraConfig regex = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': 'all-linear',"
                + " 'exclude_modules': '.*mlp.*'}");
        assertFalse(regex.targets("model.layers.0.mlp.down_proj"));
        assertTrue(regex.targets("model.layers.0.self_attn.o_proj"));
    }

    @Test
    void rankAndAlphaPatternsTakeTheFirstMatchingKeyAndScaleFollowsRsLora() {
        LoraConfig c = config("{'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': 'all-linear',"
                + " 'rank_pattern': {'layers.0.self_attn.q_proj': 2, 'q_proj': 4},"
                + " 'alpha_pattern': {'down_proj': 3.0}}");
        assertEquals(2, c.rank("model.layers.0.self_attn.q_proj"));
        assertEquals(4, c.rank("model.layers.10.self_attn.q_proj"), "'layers.0…' must end at a dot boundary");
        assertEquals(8, c.rank("model.layers.0.self_attn.k_proj"));
        assertEquals(3.0, c.alpha("model.layers.1.mlp.down_proj"));
        assertEquals(16.0 / 4, c.scale("model.layers.10.self_attn.q_proj"), 1e-12);
        assertEquals(3.0 / 8, c.scale("model.layers.1.mlp.down_proj"), 1e-12);
        LoraConfig rs = config("{'peft_type': 'LORA', 'r': 16, 'lora_alpha': 8, 'target_modules': ['q_proj'],"
                + " 'use_rslora': true}");
        assertEquals(8 / 4.0, rs.scale("model.layers.0.self_attn.q_proj"), 1e-12);
    }

    @Test
    void theWrittenConfigReadsBackTheSame() {
        LoraConfig c = LoraConfig.of(4, 8, true, java.util.List.of("q_proj", "v_proj"), java.util.List.of(1, 2), false,
                "checkpoints/fixture-llama");
        LoraConfig back = LoraConfig.parse("written", c.toJson());
        assertEquals(c, back);
    }
}
