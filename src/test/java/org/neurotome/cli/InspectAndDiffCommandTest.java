package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.arch.Head;
import org.neurotome.arch.Neuron;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.surgery.ScaleNeurons;
import org.neurotome.surgery.Surgeon;
import org.neurotome.surgery.ZeroHeads;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code inspect --json} fields (every newer family supported) and error exit codes; {@code diff}
 * naming the zeroed heads and scaled neurons.
 */
class InspectAndDiffCommandTest {
    private static final Path REFERENCE = Path.of("src/test/resources/reference");

    @TempDir
    Path tmp;

    @Test
    void inspectJsonDescribesAShardedGqaCheckpoint() throws Exception {
        JsonNode j = Json.MAPPER.readTree(CliRun.stdout(0, "inspect", REFERENCE.resolve("llama_sharded_f16").toString(), "--json", "--tensors"));
        assertEquals("llama", j.get("model_type").asText());
        assertEquals(2, j.get("num_layers").asInt());
        assertEquals(4, j.get("num_heads").asInt());
        assertEquals(56, j.get("ffn_size").asInt());
        assertEquals(2, j.get("shards").size());
        long params = 0;
        for (JsonNode t : j.get("tensors")) {
            long n = 1;
            for (JsonNode d : t.get("shape")) {
                n *= d.asLong();
            }
            params += n;
        }
        assertEquals(params, j.get("parameters").asLong());
        assertEquals(j.get("tensors").size(), j.get("dtypes").get("F16").asInt());
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"gpt_neox_parallel", "qwen3_qk_norm", "gemma2_softcap_window",
            "phi3_fused", "llama3_rope_scaling", "olmo2", "gemma3_text"})
    void inspectSupportsEachNewerFamily(String name) throws Exception {
        JsonNode j = Json.MAPPER.readTree(CliRun.stdout(0, "inspect", REFERENCE.resolve(name).toString(), "--json"));
        assertTrue(j.get("supported").asBoolean(), j.toString());
        JsonNode expected = Json.MAPPER.readTree(REFERENCE.resolve(name).resolve("expected.json").toFile()).get("dims");
        assertEquals(expected.get("n_heads").asInt(), j.get("num_heads").asInt());
        assertEquals(expected.get("head_dim").asInt(), j.get("head_dim").asInt());
        assertEquals(expected.get("intermediate_size").asInt(), j.get("ffn_size").asInt());
    }

    @Test
    void inspectOfABrokenCheckpointExitsThree() throws Exception {
        Path bad = tmp.resolve("bad");
        Files.createDirectories(bad);
        Files.writeString(bad.resolve("config.json"), "{\"model_type\": \"llama\"}");
        Files.write(bad.resolve("model.safetensors"), new byte[] {1, 2, 3});
        CliRun.stdout(3, "inspect", bad.toString());
        CliRun.stdout(3, "inspect", tmp.resolve("missing").toString());
    }

    @Test
    void diffNamesZeroedHeadsAndScaledNeurons() throws Exception {
        Path out = tmp.resolve("edited");
        try (Checkpoint ck = Checkpoint.open(REFERENCE.resolve("stories260K"))) {
            Surgeon.apply(ck, List.of(new ZeroHeads(List.of(new Head(3, 5))), new ScaleNeurons(List.of(new Neuron(1, 7)), 0.25f)),
                    new Surgeon.Options(out, null, Long.MAX_VALUE, false, Map.of(), Map.of(), Map.of()));
        }
        JsonNode d = Json.MAPPER.readTree(CliRun.stdout(0, "diff", REFERENCE.resolve("stories260K").toString(), out.toString(), "--json"));
        assertEquals(1, d.get("heads").size());
        assertEquals("3.5", d.get("heads").get(0).get("head").asText());
        assertEquals("zeroed", d.get("heads").get(0).get("change").asText());
        assertEquals(1, d.get("neurons").size());
        assertEquals("1.7", d.get("neurons").get(0).get("neuron").asText());
        assertEquals(0.25, d.get("neurons").get(0).get("factor").asDouble(), 1e-4);
        assertTrue(d.get("tensors").size() >= 3, "o, q and down projections changed");
    }

    @Test
    void aConfigClaimingMoreLayersThanTheTensorsHoldIsRefusedNotWalked() throws Exception {
        Path dir = org.neurotome.model.TinyTokenizer.copyReference("gpt2_tied", tmp.resolve("huge"));
        Path config = dir.resolve("config.json");
        java.nio.file.Files.writeString(config, java.nio.file.Files.readString(config)
                .replaceAll("\"n_layer\": *[0-9]+", "\"n_layer\": 2147483647"));
        CliRun diff = CliRun.of("diff", dir.toString(), dir.toString());
        assertEquals(3, diff.code(), diff.err());
        assertTrue(diff.err().contains("missing tensor"), diff.err());
        CliRun inspect = CliRun.of("inspect", dir.toString(), "--json");
        assertEquals(0, inspect.code(), inspect.err());
        assertTrue(inspect.out().contains("\"supported\" : false"), inspect.out());
    }
}
