package org.neurotome.lora;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.FloatCodec;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.checkpoint.SafetensorsFile;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.ReferenceData;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Adapters that do not fit are refused before any weight is read: a BAD_CHECKPOINT error
 * (exit 3) on one line naming the adapter file and the key or tensor, the bad value and what
 * is allowed.
 */
class LoraAdapterErrorsTest {
    @TempDir
    Path tmp;

    /** A copy of a reference adapter with its config changed by {@code edit}. */
    private Path withConfig(String name, Consumer<ObjectNode> edit) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("bad-" + System.nanoTime()));
        Path src = LoraReference.adapter(name);
        Files.copy(src.resolve(LoraAdapter.WEIGHTS), dir.resolve(LoraAdapter.WEIGHTS));
        ObjectNode cfg = (ObjectNode) Json.MAPPER.readTree(src.resolve(LoraConfig.FILE).toFile());
        edit.accept(cfg);
        Files.writeString(dir.resolve(LoraConfig.FILE), cfg.toString());
        return dir;
    }

    /** A copy of a reference adapter keeping only the tensors {@code keep} accepts, plus {@code extra}. */
    private Path withTensors(String name, Predicate<String> keep, OutputTensor... extra) throws IOException {
        Path dir = tmp.resolve("bad-" + System.nanoTime());
        Path src = LoraReference.adapter(name);
        List<OutputTensor> tensors = new ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(src.resolve(LoraAdapter.WEIGHTS))) {
            for (TensorInfo t : f.tensors().values()) {
                if (keep.test(t.name())) {
                    tensors.add(OutputTensor.ofFloats(t.name(), DType.F32, t.shape(),
                            FloatCodec.decode(f.bytes(t), t.dtype(), (int) t.numel())));
                }
            }
        }
        tensors.addAll(List.of(extra));
        new CheckpointWriter(Long.MAX_VALUE, Map.of("format", "pt"), false).tensorFile(LoraAdapter.WEIGHTS)
                .write(dir, tensors, Map.of(LoraConfig.FILE, Files.readAllBytes(src.resolve(LoraConfig.FILE))));
        return dir;
    }

    /** Opens {@code model} with the adapter in {@code adapter}, which must fail; returns the message. */
    private static String refused(String model, Path adapter) {
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> {
            try (LanguageModel m = LanguageModel.open(ReferenceData.caseDir(model), Device.cpu(), MemoryBudget.unlimited(),
                    LoraAdapter.read(adapter))) {
                m.config();
            }
        });
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode(), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    private static void contains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "'" + p + "' in: " + message);
        }
    }

    @Test
    void aRankOfZeroIsRefusedNamingTheKey() throws IOException {
        Path a = withConfig("gpt2_tied", c -> c.put("r", 0));
        contains(refused("gpt2_tied", a), a.resolve(LoraConfig.FILE).toString(), "key 'r' is 0",
                "allowed: a whole number from 1 to 1048576");
    }

    @Test
    void aNegativeOrNonFiniteAlphaIsRefused() throws IOException {
        Path negative = withConfig("gpt2_tied", c -> c.put("lora_alpha", -2.5));
        contains(refused("gpt2_tied", negative), "key 'lora_alpha' is -2.5", "a finite number >= 0");
        Path infinite = tmp.resolve("inf");
        Files.createDirectories(infinite);
        Files.copy(LoraReference.adapter("gpt2_tied").resolve(LoraAdapter.WEIGHTS), infinite.resolve(LoraAdapter.WEIGHTS));
        String text = Files.readString(LoraReference.adapter("gpt2_tied").resolve(LoraConfig.FILE))
                .replaceFirst("\"lora_alpha\": [0-9.]+", "\"lora_alpha\": 1e999");
        Files.writeString(infinite.resolve(LoraConfig.FILE), text);
        contains(refused("gpt2_tied", infinite), "key 'lora_alpha' is", "a finite number >= 0");
        Path pattern = withConfig("llama_gqa_tied_bf16", c -> ((ObjectNode) c.get("alpha_pattern")).put("down_proj", -1));
        contains(refused("llama_gqa_tied_bf16", pattern), "key 'alpha_pattern.down_proj' is -1");
    }

    @Test
    void aTargetModuleTheFamilyDoesNotHaveIsRefused() throws IOException {
        Path a = withConfig("gpt2_tied", c -> c.withArray("target_modules").add("q_proj"));
        contains(refused("gpt2_tied", a), "target_modules", "'q_proj'", "allowed: c_attn, c_proj, c_fc");
    }

    @Test
    void anAdapterOfAnotherFamilyOrShapeIsRefusedNamingTheTensor() {
        contains(refused("gpt2_tied", LoraReference.adapter("llama_sharded_f16")),
                "tensor 'base_model.model.model.layers.0.", "another model family");
        contains(refused("gpt2_odd_untied", LoraReference.adapter("gpt2_tied")),
                "tensor 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight' has shape [4, 32]",
                "needs [4, 20]");
    }

    @Test
    void aMissingOrUnexpectedTensorIsRefusedByName() throws IOException {
        Path missing = withTensors("gpt2_tied", n -> !n.equals("base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight"));
        contains(refused("gpt2_tied", missing), "missing tensor 'base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight'");
        Path dora = withTensors("gpt2_tied", n -> true, OutputTensor.ofFloats(
                "base_model.model.transformer.h.0.attn.c_attn.lora_magnitude_vector", DType.F32, new long[] {96},
                new float[96]));
        contains(refused("gpt2_tied", dora), "unexpected tensor 'base_model.model.transformer.h.0.attn.c_attn"
                + ".lora_magnitude_vector'");
        Path untargeted = withConfig("gpt2_tied", c -> c.putArray("target_modules").add("c_attn").add("c_proj"));
        contains(refused("gpt2_tied", untargeted), "adapts transformer.h.0.mlp.c_fc, which adapter_config.json's "
                + "target_modules do not select");
    }

    @Test
    void settingsBeyondAPlainLowRankDeltaAreRefusedByName() throws IOException {
        contains(refused("gpt2_tied", withConfig("gpt2_tied", c -> c.put("use_dora", true))), "key 'use_dora' is true");
        contains(refused("gpt2_tied", withConfig("gpt2_tied", c -> c.put("peft_type", "IA3"))),
                "key 'peft_type' is 'IA3'", "allowed: LORA");
        contains(refused("gpt2_tied", withConfig("gpt2_tied", c -> c.put("bias", "all"))), "key 'bias'");
        contains(refused("gpt2_tied", withConfig("gpt2_tied", c -> c.putArray("modules_to_save").add("lm_head"))),
                "key 'modules_to_save'");
        contains(refused("gpt2_tied", withConfig("gpt2_tied", c -> c.put("init_lora_weights", "pissa"))),
                "key 'init_lora_weights' is 'pissa'");
    }

    @Test
    void aDirectoryWithoutTheAdapterFilesIsRefused() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> LoraAdapter.read(empty));
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
        contains(e.getMessage(), empty.resolve(LoraConfig.FILE).toString(), "missing");
    }

    @Test
    void aRankAboveTheLargestReadSaysWhatIsAllowed() throws IOException {
        Path a = withConfig("gpt2_tied", c -> c.put("r", Integer.MAX_VALUE));
        contains(refused("gpt2_tied", a), "key 'r' is 2147483647", "allowed: a whole number from 1 to 1048576");
    }

    @Test
    void aDeeplyNestedConfigIsRefusedAsInvalidJson() throws IOException {
        Path a = withConfig("gpt2_tied", c -> { });
        Files.writeString(a.resolve(LoraConfig.FILE), "[".repeat(5000) + "]".repeat(5000));
        contains(refused("gpt2_tied", a), a.resolve(LoraConfig.FILE) + ": invalid JSON:", "nesting depth");
    }

    @Test
    @org.junit.jupiter.api.Timeout(120)
    void aTargetPatternThatBacktracksWithoutEndIsRefused() throws IOException {
        Path a = withConfig("gpt2_tied", c -> c.put("target_modules", "((((.*)*)*)*)*x"));
        contains(refused("gpt2_tied", a), a.resolve(LoraConfig.FILE) + ": key 'target_modules' is the pattern "
                + "'((((.*)*)*)*)*x', which backtracks without end on the module path 'transformer.h.0.");
        Path rank = withConfig("llama_gqa_tied_bf16", c -> ((ObjectNode) c.get("rank_pattern")).put("((((.*)*)*)*)*y", 2));
        contains(refused("llama_gqa_tied_bf16", rank), "key 'rank_pattern.((((.*)*)*)*)*y'");
    }
}
