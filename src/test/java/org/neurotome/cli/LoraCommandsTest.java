package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.testing.TestModels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRA from the command line on {@code fixture-gpt2}: {@code train-lora} writes a PEFT adapter
 * with its log and a manifest {@code verify} accepts; {@code predict}, {@code inspect},
 * {@code eval} and {@code locate --against-adapter} take it; bad options exit 2 and a bad
 * adapter exits 3, each with one line naming what is wrong.
 */
class LoraCommandsTest {
    private static final String MODEL = "checkpoints/fixture-gpt2";

    @TempDir
    static Path tmp;
    static Path adapter;

    @BeforeAll
    static void train() {
        adapter = tmp.resolve("adapter");
        String out = CliRun.stdout(0, "train-lora", MODEL, "--dataset", "eval/datasets/arithmetic.jsonl",
                "--where", "operation=*", "--where", "digits=2", "--steps", "20", "--batch-size", "16", "--lr", "1e-2",
                "--rank", "4", "--layers", "1-2", "--out", adapter.toString(), "--device", "cpu");
        assertTrue(out.startsWith("wrote " + adapter + ": r 4, alpha 16, 2 modules (c_attn) in layers [1, 2]"), out);
    }

    @Test
    void theAdapterIsAPeftDirectoryWithItsLogAndAVerifiedManifest() throws Exception {
        for (String f : new String[] {"adapter_config.json", "adapter_model.safetensors", "training-log.jsonl",
                "manifest.json"}) {
            assertTrue(Files.isRegularFile(adapter.resolve(f)), f);
        }
        JsonNode config = Json.MAPPER.readTree(adapter.resolve("adapter_config.json").toFile());
        assertEquals("LORA", config.get("peft_type").asText());
        assertTrue(config.get("fan_in_fan_out").asBoolean(), "GPT-2's Conv1D");
        assertEquals("[1,2]", config.get("layers_to_transform").toString());
        String[] log = Files.readString(adapter.resolve("training-log.jsonl")).split("\n");
        assertEquals("start", Json.MAPPER.readTree(log[0]).get("event").asText());
        assertEquals(20, Json.MAPPER.readTree(log[log.length - 1]).get("steps").asInt());
        CliRun.stdout(0, "verify", adapter.toString());
        String written = Files.readString(adapter.resolve("training-log.jsonl"))
                + Files.readString(adapter.resolve("manifest.json"));
        assertFalse(written.contains("elapsed") || written.contains("wall_s") || written.contains("ms_per_step"),
                "no times in the files the manifest hashes: " + written);
    }

    @Test
    void theAdapterNamesItsBaseModelByNameOrRelativePathNeverByAnAbsolutePath() throws Exception {
        JsonNode config = Json.MAPPER.readTree(adapter.resolve("adapter_config.json").toFile());
        assertEquals(MODEL, config.get("base_model_name_or_path").asText(), "a model inside the working directory");
        assertEquals(MODEL, Json.MAPPER.readTree(adapter.resolve("manifest.json").toFile()).at("/base/name").asText());
        assertFalse(Files.readString(adapter.resolve("training-log.jsonl")).contains(Path.of(MODEL).toAbsolutePath().toString()));

        Path named = tmp.resolve("named");
        CliRun.stdout(0, "train-lora", MODEL, "--corpus", "arithmetic", "--steps", "2", "--batch-size", "4", "--out",
                named.toString(), "--base-model", "org/fixture-gpt2");
        assertEquals("org/fixture-gpt2", Json.MAPPER.readTree(named.resolve("adapter_config.json").toFile())
                .get("base_model_name_or_path").asText());

        Path outside = tmp.resolve("models/fixture-copy");
        Files.createDirectories(outside);
        try (var files = Files.list(Path.of(MODEL))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, outside.resolve(f.getFileName()));
            }
        }
        Path unnamed = tmp.resolve("unnamed");
        CliRun.stdout(0, "train-lora", outside.toString(), "--corpus", "arithmetic", "--steps", "2", "--batch-size", "4",
                "--out", unnamed.toString());
        assertEquals("fixture-copy", Json.MAPPER.readTree(unnamed.resolve("adapter_config.json").toFile())
                .get("base_model_name_or_path").asText(), "a model outside the working directory: its folder name");
    }

    @Test
    void predictInspectAndLocateTakeTheAdapter() throws Exception {
        String base = CliRun.stdout(0, "predict", MODEL, "--prompt", "Q: What is 12 times 34? A:", "--json", "--logits");
        String tuned = CliRun.stdout(0, "predict", MODEL, "--prompt", "Q: What is 12 times 34? A:", "--json", "--logits",
                "--adapter", adapter.toString());
        assertNotEquals(Json.MAPPER.readTree(base).get("logits"), Json.MAPPER.readTree(tuned).get("logits"));

        JsonNode inspect = Json.MAPPER.readTree(CliRun.stdout(0, "inspect", MODEL, "--json", "--adapter", adapter.toString()));
        assertEquals(2, inspect.get("adapter").get("modules").size());
        assertEquals("transformer.h.1.attn.c_attn", inspect.get("adapter").get("modules").get(0).get("module").asText());
        assertEquals(2 * 4 * (128 + 384), inspect.get("adapter").get("parameters").asLong());

        Path findings = tmp.resolve("cna.json");
        String table = CliRun.stdout(0, "locate", MODEL, "--method", "cna", "--prompt", "Q: What is 12 times 34? A:",
                "--against-adapter", adapter.toString(), "--json", findings.toString(), "--top", "5");
        assertTrue(table.contains("A = the model, B = the model with LoRA adapter " + adapter), table);
        assertFalse(table.contains("contrast"), table);
        JsonNode f = Json.MAPPER.readTree(findings.toFile());
        assertEquals("adapter", f.get("comparison").asText());
        assertEquals(adapter.toString(), f.get("against").get("adapter").get("path").asText());
        assertFalse(f.get("model").has("adapter"), "run A is the base model");
        assertEquals(5, f.get("neurons").size());
    }

    @Test
    void evalJudgesTheAdapterAgainstItsBase() throws Exception {
        Path out = tmp.resolve("report");
        CliRun run = CliRun.of("eval", MODEL, "--adapter", adapter.toString(), "--baseline", MODEL, "--suite",
                "eval/suites/arithmetic.yaml", "--limit", "20", "--out", out.toString());
        assertTrue(run.code() == 0 || run.code() == 1, run.err());
        String report = Files.readString(out.resolve("report.json"));
        assertTrue(report.contains("+ adapter " + adapter.toAbsolutePath().normalize()), "the candidate names its adapter");
    }

    /** An adapter a command reads is an input: no report, findings file or chart is written into it. */
    @Test
    void anAdapterThatIsReadIsNeverWrittenInto() throws Exception {
        Map<String, String> before = TestModels.treeHashes(adapter);
        String prompt = "Q: What is 12 times 34? A:";
        List<List<String>> runs = List.of(
                List.of("eval", MODEL, "--adapter", adapter.toString(), "--suite", "eval/suites/arithmetic.yaml",
                        "--out", adapter.toString()),
                List.of("eval", MODEL, "--baseline", MODEL, "--baseline-adapter", adapter.toString(), "--suite",
                        "eval/suites/arithmetic.yaml", "--out", adapter.resolve("report").toString()),
                List.of("locate", MODEL, "--method", "head-scan", "--prompt", prompt, "--adapter", adapter.toString(),
                        "--json", adapter.resolve("findings.json").toString()),
                List.of("locate", MODEL, "--method", "cna", "--prompt", prompt, "--against-adapter", adapter.toString(),
                        "--svg", adapter.resolve("chart.svg").toString()));
        for (List<String> args : runs) {
            CliRun run = CliRun.of(args.toArray(String[]::new));
            assertEquals(4, run.code(), args + ": " + run.err());
            assertTrue(run.err().contains("the adapter of --"), run.err());
        }
        assertEquals(before, TestModels.treeHashes(adapter), "the adapter is unchanged");
    }

    @Test
    void badOptionsAndBadAdaptersFailWithOneLine() throws Exception {
        CliRun wrongTarget = CliRun.of("train-lora", MODEL, "--corpus", "arithmetic", "--target-modules", "q_proj",
                "--out", tmp.resolve("x").toString());
        assertEquals(2, wrongTarget.code());
        assertTrue(wrongTarget.err().contains("lists 'q_proj', which a gpt2 model with 4 layers has no projection of; "
                + "allowed: c_attn, c_proj, c_fc"), wrongTarget.err());
        CliRun wrongLayer = CliRun.of("train-lora", MODEL, "--corpus", "arithmetic", "--layers", "4", "--out",
                tmp.resolve("y").toString());
        assertEquals(2, wrongLayer.code());
        assertTrue(wrongLayer.err().contains("--layers '4': the model has layers 0..3"), wrongLayer.err());
        CliRun noBaseline = CliRun.of("eval", MODEL, "--suite", "eval/suites/arithmetic.yaml", "--baseline-adapter",
                adapter.toString());
        assertEquals(2, noBaseline.code());

        Path bad = Files.createDirectories(tmp.resolve("bad"));
        Files.copy(adapter.resolve("adapter_model.safetensors"), bad.resolve("adapter_model.safetensors"));
        Files.writeString(bad.resolve("adapter_config.json"), Files.readString(adapter.resolve("adapter_config.json"))
                .replace("\"r\" : 4", "\"r\" : 0"));
        CliRun badAdapter = CliRun.of("predict", MODEL, "--ids", "1,2", "--adapter", bad.toString());
        assertEquals(3, badAdapter.code());
        assertEquals("error: " + bad.resolve("adapter_config.json") + ": key 'r' is 0; allowed: a whole number from 1 to 1048576",
                badAdapter.err().strip());
        CliRun otherFamily = CliRun.of("predict", "checkpoints/fixture-llama", "--ids", "1,2", "--adapter",
                adapter.toString());
        assertEquals(3, otherFamily.code());
        assertTrue(otherFamily.err().contains("another model family"), otherFamily.err());
    }
}
