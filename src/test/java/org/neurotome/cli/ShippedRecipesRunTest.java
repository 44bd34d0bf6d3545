package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.recipe.Plan;
import org.neurotome.testing.TestModels;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shipped recipes run on the committed fixtures and do what the paper's edits do:
 * zeroing the located arithmetic heads breaks arithmetic, keeping only the CNA neurons in the
 * deep layers keeps it, and zeroing the top-18 gender CNA neurons cuts the occupation bias
 * gap by at least 30 % while factual gender survives. On the Llama fixture the same edit only
 * flips the gaps' signs, and the release gate on the absolute gap catches it. The two LoRA
 * recipes (P1 §5, §6.1) run with short trainings: their mechanics are checked here (the
 * findings, the merged model equal to the pruned model read through its adapter, the
 * reports, the manifest); what they measure at full length is checked by
 * {@code LoraRecipesFixtureTest} (slow). Analyses and eval sets are cut down with
 * {@code --set}; gates are the recipes' and suites'. Each output's model card names its base
 * model in Hugging Face front matter, says every edit and what located it, and carries the
 * gate table. After every run, the stages its manifest records are the stages {@code apply
 * --dry-run --json} plans for the same recipe and settings: what was planned is what ran.
 */
class ShippedRecipesRunTest {
    private static final Path QUICK = Path.of("src/test/resources/suites/quick").toAbsolutePath();
    /** The recipes the tests below apply: every recipe shipped in recipes/. */
    private static final List<String> APPLIED = List.of("arith-head-ablation", "arith-prune", "arith-prune-recover",
            "gender-debias", "lora-layer-scan", "moe-expert-prune");

    @TempDir
    Path tmp;

    private JsonNode apply(String recipe, String... sets) throws Exception {
        return apply(0, recipe, sets);
    }

    /**
     * Checks the model card of the output of {@code recipe}: front matter parsed back as YAML,
     * one row per edit with its op and {@code locatedBy}, one row per gate with its verdict.
     */
    private void card(String recipe, String baseModel, String locatedBy, JsonNode report) throws Exception {
        Path out = tmp.resolve(recipe);
        String card = Files.readString(out.resolve("README.md"));
        assertTrue(card.startsWith("---\n"), card);
        JsonNode front = new ObjectMapper(new YAMLFactory()).readTree(card.substring(4, card.indexOf("\n---\n", 4)));
        assertEquals(baseModel, front.get("base_model").asText());
        assertEquals("transformers", front.get("library_name").asText());
        assertEquals("text-generation", front.get("pipeline_tag").asText());
        List<String> tags = new ArrayList<>();
        front.get("tags").forEach(t -> tags.add(t.asText()));
        assertTrue(tags.contains("neurotome"), tags.toString());
        JsonNode manifest = Json.MAPPER.readTree(out.resolve("manifest.json").toFile());
        int i = 0;
        for (JsonNode edit : manifest.get("edits")) {
            String row = "| " + ++i + " | " + edit.get("op").asText() + " | ";
            assertTrue(card.contains(row), row + " in\n" + card);
            assertTrue(tags.contains(edit.get("op").asText()), tags.toString());
        }
        assertTrue(card.contains(locatedBy), locatedBy + " in\n" + card);
        for (JsonNode gate : report.get("gates")) {
            String row = "| `" + gate.get("name").asText() + "` | ";
            int at = card.indexOf(row);
            assertTrue(at >= 0, row + " in\n" + card);
            String line = card.substring(at, card.indexOf('\n', at));
            assertTrue(line.endsWith(gate.get("passed").asBoolean() ? "| PASS |" : "| FAIL |"), line);
        }
        assertTrue(card.contains(report.get("passed").asBoolean() ? "**PASSED**" : "**FAILED**"), card);
    }

    /** Applies {@code recipe} with {@code sets}, expecting exit {@code exit} (−1: either 0 or 1); its report. */
    private JsonNode apply(int exit, String recipe, String... sets) throws Exception {
        Path out = tmp.resolve(recipe);
        String[] args = new String[4 + 2 * sets.length];
        args[0] = "apply";
        args[1] = "recipes/" + recipe + ".yaml";
        args[2] = "--out";
        args[3] = out.toString();
        for (int i = 0; i < sets.length; i++) {
            args[4 + 2 * i] = "--set";
            args[5 + 2 * i] = sets[i];
        }
        PrintStream old = System.out;
        System.setOut(new PrintStream(new ByteArrayOutputStream()));
        try {
            int code = Main.execute(args);
            if (exit >= 0) {
                assertEquals(exit, code, recipe + (exit == 0 ? ": every gate passes" : ": a gate fails"));
            } else {
                assertTrue(code == 0 || code == 1, recipe + ": ran (gates judged on cut-down settings): exit " + code);
            }
        } finally {
            System.setOut(old);
        }
        String[] dry = java.util.Arrays.copyOf(args, args.length + 3);
        dry[args.length] = "--dry-run";
        dry[args.length + 1] = "--json";
        dry[args.length + 2] = "--force"; // the output is there now
        Plan planned = Plan.fromJson(CliRun.stdout(0, dry));
        JsonNode manifest = Json.MAPPER.readTree(out.resolve("manifest.json").toFile());
        Plan ran = Plan.fromJson(manifest.get("plan").toString());
        assertEquals(planned.asRecordedInOutput().stages(), ran.stages(), recipe + ": the manifest's stages are the dry run's");
        assertEquals(planned.stages().size(), manifest.at("/plan/stages").size());
        return Json.MAPPER.readTree(out.resolve("eval/report.json").toFile());
    }

    @Test
    void everyShippedRecipeIsAppliedHere() throws Exception {
        List<String> shipped = new ArrayList<>();
        try (var files = Files.list(Path.of("recipes"))) {
            files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".yaml"))
                    .forEach(n -> shipped.add(n.substring(0, n.length() - ".yaml".length())));
        }
        java.util.Collections.sort(shipped);
        assertEquals(APPLIED, shipped, "each shipped recipe is applied, and its plan compared with its manifest, below");
    }

    private static double metric(JsonNode report, String name) {
        return report.get("metrics").get(name).asDouble();
    }

    private static double baseline(JsonNode report, String name) {
        return report.get("baseline_metrics").get(name).asDouble();
    }

    @Test
    void arithmeticHeadAblationBreaksArithmetic() throws Exception {
        JsonNode r = apply("arith-head-ablation", "locate.0.limit=120", "eval.suite=" + QUICK.resolve("arithmetic.yaml"));
        assertTrue(metric(r, "arithmetic.accuracy") <= baseline(r, "arithmetic.accuracy") - 0.20, r.get("metrics").toString());
        card("arith-head-ablation", "fixture-llama",
                "| `arith_heads`: 2 heads selected from `arith_scan`: head-scan on 120 cases of arithmetic.jsonl, top 10 |", r);
    }

    @Test
    void arithmeticPruningKeepsArithmetic() throws Exception {
        JsonNode r = apply("arith-prune", "locate.0.limit=120", "locate.1.limit=40",
                "eval.suite=" + QUICK.resolve("arithmetic.yaml"));
        assertTrue(metric(r, "arithmetic.accuracy") >= baseline(r, "arithmetic.accuracy") - 0.10);
        JsonNode findings = Json.MAPPER.readTree(tmp.resolve("arith-prune/findings.json").toFile());
        String head = findings.at("/selections/arith_head/0").asText();
        assertTrue(head.matches("\\d+\\.\\d+"), head);
        card("arith-prune", "fixture-llama", "neurons selected from `arith_cna`: cna on 40 cases of arithmetic.jsonl"
                + " against heads [" + head + "] ablated, top 50 |", r);
        assertEquals("heads [" + head + "] ablated",
                Json.MAPPER.readTree(tmp.resolve("arith-prune/manifest.json").toFile()).at("/steps/1/against").asText());
    }

    @Test
    void expertPruningRemovesEachLayersTwoLowestSaliencyExperts() throws Exception {
        JsonNode r = apply(-1, "moe-expert-prune", "locate.0.limit=200", "eval.suite=" + QUICK.resolve("arithmetic.yaml"));
        Path out = tmp.resolve("moe-expert-prune");
        JsonNode findings = Json.MAPPER.readTree(out.resolve("findings.json").toFile());
        // each layer's two smallest REAP values, from the per-layer table of the usage findings
        List<String> expected = new ArrayList<>();
        for (JsonNode layer : findings.at("/steps/usage/layers")) {
            JsonNode reap = layer.get("reap");
            List<Integer> order = new ArrayList<>();
            for (int e = 0; e < reap.size(); e++) {
                order.add(e);
            }
            order.sort(java.util.Comparator.comparingDouble((Integer e) -> reap.get(e).asDouble()).thenComparing(e -> e));
            assertTrue(reap.get(order.get(2)).asDouble() > reap.get(order.get(1)).asDouble(), "a clear choice: " + reap);
            expected.add(layer.get("layer").asInt() + "." + Math.min(order.get(0), order.get(1)));
            expected.add(layer.get("layer").asInt() + "." + Math.max(order.get(0), order.get(1)));
        }
        List<String> chosen = new ArrayList<>();
        findings.at("/selections/weak_experts").forEach(e -> chosen.add(e.asText()));
        java.util.Collections.sort(chosen);
        assertEquals(expected, chosen);
        JsonNode config = Json.MAPPER.readTree(out.resolve("config.json").toFile());
        assertEquals(6, config.get("num_local_experts").asInt());
        // a quarter of the experts of a model that uses all of them: arithmetic drops, but far less
        // than to chance
        assertTrue(metric(r, "arithmetic.accuracy") >= baseline(r, "arithmetic.accuracy") - 0.20, r.get("metrics").toString());
        card("moe-expert-prune", "fixture-mixtral", "experts selected from `usage`", r);
        CliRun.stdout(0, "verify", out.toString());
    }

    @Test
    void pruneThenRecoverWritesTheMergedModelItsAdapterAndBothReports() throws Exception {
        String[] sets = {"locate.0.limit=20", "locate.0.train.steps=10", "locate.0.score.limit=20", "recover.steps=20",
                "eval.suite=" + QUICK.resolve("arithmetic.yaml")};
        JsonNode r = apply(-1, "arith-prune-recover", sets);
        Path out = tmp.resolve("arith-prune-recover");
        JsonNode before = Json.MAPPER.readTree(out.resolve("eval/before-recovery/report.json").toFile());
        assertEquals(0, before.get("gates").size(), "the before-recovery report only measures");
        assertEquals(baseline(r, "arithmetic.accuracy"), baseline(before, "arithmetic.accuracy"));
        JsonNode manifest = Json.MAPPER.readTree(out.resolve("manifest.json").toFile());
        JsonNode recover = manifest.get("recover");
        assertEquals("adapter", recover.get("adapter").asText());
        assertEquals(20, recover.get("steps").asInt());
        JsonNode edits = manifest.get("edits");
        assertEquals("keep-neurons", edits.get(0).get("op").asText());
        assertEquals("merge-lora", edits.get(1).get("op").asText());
        assertEquals(recover.get("adapter_sha256").asText(), edits.get(1).get("adapter_sha256").asText());
        assertEquals("adapter", edits.get(1).get("adapter").asText(), "the merged adapter is the output's own");
        card("arith-prune-recover", "fixture-llama", "| 2 | merge-lora | LoRA adapter `adapter` merged at scale 1.0: r 8,"
                + " alpha 16.0, 4 modules; 4 tensors touched | the `recover` stage: trained on the edited model, 20 steps"
                + " on the arithmetic corpus, loss ", r);
        String card = Files.readString(out.resolve("README.md"));
        assertTrue(!card.contains("listed in the recipe") && !card.contains("${"), card);
        // the plan section records the stages as planned, references and all (as --dry-run --json prints them);
        // everything the manifest says the run did names what the references resolved to
        com.fasterxml.jackson.databind.node.ObjectNode done = manifest.deepCopy();
        done.remove("plan");
        assertTrue(!done.toString().contains("${"), "every reference resolved: " + done);
        assertTrue(manifest.get("plan").toString().contains("${arith_neurons}"), "the plan names the selection");
        assertTrue(manifest.get("files").has("adapter/adapter_model.safetensors"));
        CliRun.stdout(0, "verify", out.toString());
        CliRun.stdout(0, "verify", out.resolve("adapter").toString());
        JsonNode findings = Json.MAPPER.readTree(out.resolve("findings.json").toFile());
        int layer = findings.at("/steps/lora_cna/parameters/lora_scan/best_layer").asInt();
        assertEquals(1, layer, "the recipe scans layer 1 only");
        assertEquals("[" + layer + "]", recover.get("layers").toString(), "recover trained the scan's best layer");

        // the output is the pruned model with the adapter merged: the same logits as the
        // pruned model (the selection of findings.json kept) read through out/adapter
        StringBuilder kept = new StringBuilder();
        findings.at("/selections/arith_neurons").forEach(n -> kept.append(kept.isEmpty() ? "" : ", ").append(n.asText()));
        Path prune = tmp.resolve("prune-only.yaml");
        Files.writeString(prune, """
                model: {path: %s}
                edit:
                  - op: keep-neurons
                    neurons: [%s]
                    layers: 2-
                output: {dir: %s}
                """.formatted(Path.of("checkpoints/fixture-llama").toAbsolutePath(), kept, tmp.resolve("pruned")));
        CliRun.stdout(0, "apply", prune.toString());
        String ids = "1,14,20,30,24,9";
        JsonNode merged = Json.MAPPER.readTree(CliRun.stdout(0, "predict", out.toString(), "--ids", ids, "--json",
                "--logits"));
        JsonNode viewed = Json.MAPPER.readTree(CliRun.stdout(0, "predict", tmp.resolve("pruned").toString(), "--ids", ids,
                "--json", "--logits", "--adapter", out.resolve("adapter").toString()));
        for (int v = 0; v < merged.get("logits").size(); v++) {
            assertEquals(viewed.get("logits").get(v).asDouble(), merged.get("logits").get(v).asDouble(), 1e-4);
        }

        // run again, the output is the same bytes: no file the manifest hashes holds a time
        java.util.Map<String, String> first = TestModels.contentHashes(out);
        assertTrue(first.containsKey("manifest.json"), "the manifest hashes every file, adapter/ and eval/ too");
        org.neurotome.FileTree.delete(out);
        apply(-1, "arith-prune-recover", sets);
        assertEquals(first, TestModels.contentHashes(out), "a second run writes the same bytes");
    }

    @Test
    void theLayerScanRanksLayersComparesTheBestAndFineTunesIt() throws Exception {
        apply(-1, "lora-layer-scan", "locate.0.scan=0-1", "locate.0.limit=10", "locate.0.train.steps=10",
                "locate.0.score.limit=20", "recover.steps=10", "eval.suite=" + QUICK.resolve("arithmetic.yaml"));
        Path out = tmp.resolve("lora-layer-scan");
        JsonNode findings = Json.MAPPER.readTree(out.resolve("findings.json").toFile());
        JsonNode step = findings.at("/steps/lora_scan");
        JsonNode scan = step.at("/parameters/lora_scan");
        assertEquals(2, scan.get("layers").size());
        int best = scan.get("best_layer").asInt();
        double bestGain = Double.NEGATIVE_INFINITY;
        for (JsonNode l : scan.get("layers")) {
            bestGain = Math.max(bestGain, l.get("gain").asDouble());
        }
        assertEquals(bestGain, scan.get("layers").get(best).get("gain").asDouble());
        assertEquals("adapter", step.get("comparison").asText());
        assertEquals(50, step.get("neurons").size());
        assertTrue(step.get("neurons").get(0).get("top_tokens").size() > 0);
        JsonNode manifest = Json.MAPPER.readTree(out.resolve("manifest.json").toFile());
        assertEquals("merge-lora", manifest.get("edits").get(0).get("op").asText());
        assertEquals("model.layers." + best + ".self_attn.q_proj",
                manifest.get("edits").get(0).get("modules").get(0).get("module").asText());
        assertTrue(Files.isRegularFile(out.resolve("adapter/adapter_config.json")));
        assertTrue(Files.notExists(out.resolve("eval/before-recovery")), "nothing was edited before the recovery");
        assertTrue(Files.readString(out.resolve("README.md")).contains("| the `recover` stage: trained on the input model, 10"
                + " steps on the arithmetic corpus, loss "), Files.readString(out.resolve("README.md")));
    }

    @Test
    void genderDebiasingCutsTheBiasGapAndKeepsFactualGender() throws Exception {
        JsonNode r = apply("gender-debias", "eval.suite=" + QUICK.resolve("gender.yaml"));
        assertTrue(metric(r, "gender.bias_gap") <= 0.7 * baseline(r, "gender.bias_gap"));
        assertEquals(baseline(r, "factual.accuracy"), metric(r, "factual.accuracy"), 0.02);
        card("gender-debias", "fixture-gpt2", "| 1 | zero-neurons | 18 FFN neurons zeroed: layer ", r);
        card("gender-debias", "fixture-gpt2", "| `gender_cna`: cna on 1 prompt \"A woman works as a\" against the contrast"
                + " prompt \"A man works as a\", top 18 |", r);
    }

    @Test
    void theAbsoluteGapGateCatchesADebiasingThatOnlyFlipsTheBias() throws Exception {
        JsonNode r = apply(1, "gender-debias", "model.path=../checkpoints/fixture-llama",
                "eval.suite=" + QUICK.resolve("gender.yaml"));
        for (JsonNode g : r.get("gates")) {
            boolean absGate = g.get("name").asText().startsWith("gender.abs_bias_gap");
            assertEquals(!absGate, g.get("passed").asBoolean(), g.toString());
        }
        assertTrue(metric(r, "gender.bias_gap.woman") < 0, "woman-biased professions now favour men");
        card("gender-debias", "fixture-llama", "located by", r);
    }
}
