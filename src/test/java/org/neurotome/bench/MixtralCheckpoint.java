package org.neurotome.bench;

import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a random BF16 checkpoint of Mixtral-8x7B's shape (hidden 4096, 32 heads over 8
 * key/value heads, vocabulary 32000, untied; in every layer a router over 8 SwiGLU experts of
 * width 14336, top 2, stored one tensor per expert as the Hub's {@code mistralai/Mixtral-8x7B-v0.1}
 * does: {@code block_sparse_moe.experts.E.w1/w2/w3}), or with {@code dense} its dense
 * equivalent: the same layers with one SwiGLU FFN of width 14336 (Mistral-7B v0.2's shape, whose
 * rope base and absent sliding window Mixtral shares). Weights as {@link SevenBillionCheckpoint}
 * draws them. Usage: {@code scripts/bench MixtralCheckpoint DIR LAYERS [moe|dense]}; nothing is
 * written when DIR already holds a checkpoint. Two layers are 5.9 GB (MoE) and 1.1 GB (dense).
 */
public final class MixtralCheckpoint {
    private MixtralCheckpoint() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        int layers = Integer.parseInt(args[1]);
        boolean dense = args.length > 2 && args[2].equals("dense");
        if (Files.exists(dir.resolve(Checkpoint.CONFIG))) {
            System.err.println(dir + " exists; not regenerated");
            return;
        }
        SevenBillionCheckpoint.write(dir, config(layers, dense));
    }

    static ObjectNode config(int layers, boolean dense) {
        ObjectNode config = Json.MAPPER.createObjectNode()
                .put("model_type", dense ? "mistral" : "mixtral").put("hidden_size", 4096)
                .put("intermediate_size", 14336).put("num_attention_heads", 32).put("num_key_value_heads", 8)
                .put("num_hidden_layers", layers).put("max_position_embeddings", 32768).put("rms_norm_eps", 1e-5)
                .put("rope_theta", 1e6).put("vocab_size", 32000).put("tie_word_embeddings", false)
                .put("bos_token_id", 1).put("eos_token_id", 2).put("hidden_act", "silu").put("torch_dtype", "bfloat16");
        config.set("sliding_window", NullNode.instance);
        if (!dense) {
            config.put("num_local_experts", 8).put("num_experts_per_tok", 2).put("router_aux_loss_coef", 0.02);
        }
        config.putArray("architectures").add(dense ? "MistralForCausalLM" : "MixtralForCausalLM");
        return config;
    }
}
