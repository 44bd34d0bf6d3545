package org.neurotome.release;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The model card rendered from a manifest and a report written by hand: every edit op in
 * words, where its components came from, the license passed on, the gate table and the
 * verdict; and how the base model's id and license are found.
 */
class ModelCardTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @TempDir
    Path tmp;

    private static final String MANIFEST = """
            {"format": "neurotome-manifest/1", "tool": {"name": "neurotome", "version": "9.9"},
             "input": {"dir": "/somewhere/base", "sha256": "%s"},
             "recipe": {"path": "/somewhere/recipes/trim.yaml", "sha256": "%s", "description": "trim the model"},
             "base_model": {"name": "org/base-7b", "license": "other", "license_name": "base-license",
                            "license_link": "LICENSE.txt"},
             "edits": [
               {"op": "zero-heads", "heads": ["17.22", "14.19"], "touched": [{}, {}, {}]},
               {"op": "keep-neurons", "kept": 3, "neurons": ["20.1", "20.7", "31.0"], "layers": "17-"},
               {"op": "scale-neurons", "factor": 0.5, "neurons": ["3.4"], "touched": [{}]},
               {"op": "compact", "neurons": true, "heads": false, "pad": true}
             ],
             "steps": [
               {"stage": "locate", "id": "scan", "method": "head-scan", "input": "400 cases of arithmetic.jsonl", "top": 10},
               {"stage": "locate", "id": "cna", "method": "cna", "input": "1 prompt \\"a | b\\"", "against": "heads [17.22] ablated", "top": 0},
               {"stage": "select", "id": "deep", "from": "cna", "kind": "neurons", "chose": 3},
               {"stage": "edit", "op": "zero-heads", "uses": "scan"},
               {"stage": "edit", "op": "keep-neurons", "uses": "deep"},
               {"stage": "edit", "op": "scale-neurons", "uses": null},
               {"stage": "edit", "op": "compact", "uses": null},
               {"stage": "eval", "suite": "arithmetic", "gates": 2}
             ],
             "files": {"model.safetensors": "00"}}
            """.formatted("a".repeat(64), "b".repeat(64));

    private static final String REPORT = """
            {"passed": false,
             "metrics": {"arithmetic.accuracy": 0.5, "arithmetic.accuracy.op=+": 0.25, "arithmetic.cases": 8},
             "baseline_metrics": {"arithmetic.accuracy": 0.75, "arithmetic.cases": 8},
             "comparison": {"arithmetic.accuracy.delta": -0.25, "arithmetic.accuracy.rel_change": -0.3333333},
             "gates": [
               {"name": "arithmetic.accuracy.delta >= -0.01", "metric": "arithmetic.accuracy", "relation": ">=",
                "bound": -0.01, "value": -0.25, "passed": false, "reason": null},
               {"name": "arithmetic.accuracy not_worse p=0.05", "metric": "arithmetic.accuracy", "relation": "not_worse",
                "bound": 0.05, "value": 0.5, "passed": true, "reason": "b=0 c=2"}
             ],
             "timings": {"total_seconds": 3.5}}
            """;

    @Test
    void theCardSaysEveryEditWhatFoundItAndTheGates() throws Exception {
        String card = ModelCard.render(Json.MAPPER.readTree(MANIFEST), Json.MAPPER.readTree(REPORT));
        assertEquals(card, ModelCard.render(Json.MAPPER.readTree(MANIFEST), Json.MAPPER.readTree(REPORT)));

        JsonNode front = YAML.readTree(card.substring(4, card.indexOf("\n---\n", 4)));
        assertEquals("org/base-7b", front.get("base_model").asText());
        assertEquals("other", front.get("license").asText());
        assertEquals("base-license", front.get("license_name").asText());
        assertEquals("LICENSE.txt", front.get("license_link").asText());
        assertFalse(front.has("base_model_relation"), "no Hub relation describes an edit in place");
        assertEquals("[\"neurotome\",\"model-surgery\",\"comparative-neuron-analysis\",\"zero-heads\",\"keep-neurons\","
                + "\"scale-neurons\",\"compact\"]", front.get("tags").toString());

        assertTrue(card.contains("# org/base-7b, edited with neurotome (trim)\n\ntrim the model\n"), card);
        assertTrue(card.contains("| 1 | zero-heads | 2 attention heads zeroed: 17.22, 14.19; 3 tensors touched"
                + " | `scan`: head-scan on 400 cases of arithmetic.jsonl, top 10 |"), card);
        assertTrue(card.contains("| 2 | keep-neurons | 3 FFN neurons kept (layer 20 (2), layer 31 (1)), every other neuron"
                + " zeroed in layers 17- | `deep`: 3 neurons selected from `cna`: cna on 1 prompt \"a \\| b\" against heads"
                + " [17.22] ablated |"), card);
        assertTrue(card.contains("| 3 | scale-neurons | 1 FFN neuron scaled by 0.5: layer 3 (1); 1 tensor touched"
                + " | listed in the recipe |"), card);
        assertTrue(card.contains("| 4 | compact | zeroed neurons removed from the weights, config.json rewritten;"
                + " FFN layers padded to one width | — |"), card);

        assertTrue(card.contains("The suite `arithmetic` ran on this model with the base model as baseline: **FAILED**,"
                + " 1 of 2 gates; this model must not ship."), card);
        assertTrue(card.contains("| `arithmetic.accuracy.delta >= -0.01` | -0.2500 | FAIL |"), card);
        assertTrue(card.contains("| `arithmetic.accuracy not_worse p=0.05` | p=0.500 | PASS |"), card);
        assertTrue(card.contains("| arithmetic.accuracy | 0.5000 | 0.7500 | -0.2500 | -33.3% |"), card);
        assertFalse(card.contains("op=+"), "slices stay in the report");
        assertFalse(card.contains("/somewhere") || card.contains("3.5"), "no paths, no timings");
        assertTrue(card.contains("| license | other, the base model's |"), card);
    }

    @Test
    void withoutAnEvalStageThereIsNoEvaluationSectionAndWithoutAnalysesNoClaimOfThem() throws Exception {
        String card = ModelCard.render(Json.MAPPER.readTree(MANIFEST), null);
        assertFalse(card.contains("## Evaluation"), card);
        assertTrue(card.contains("## Provenance"), card);
        assertTrue(card.contains("were located with the analyses of Yu & Ananiadou"), card);

        com.fasterxml.jackson.databind.node.ObjectNode literal = (com.fasterxml.jackson.databind.node.ObjectNode)
                Json.MAPPER.readTree(MANIFEST);
        literal.putArray("steps").addObject().put("stage", "edit").put("op", "zero-heads").putNull("uses");
        literal.putArray("edits").addObject().put("op", "zero-heads").putArray("heads").add("1.0");
        String plain = ModelCard.render(literal, null);
        assertTrue(plain.contains("following the recipe `trim.yaml`, as listed below."), plain);
        assertTrue(plain.contains("| 1 | zero-heads | 1 attention head zeroed: 1.0 | listed in the recipe |"), plain);
        assertFalse(plain.contains("comparative-neuron-analysis"), plain);
    }

    @Test
    void aRecoverStagesMergeIsSaidToBeTheRecoveryAndASuiteWithoutGatesJudgesNothing() throws Exception {
        com.fasterxml.jackson.databind.node.ObjectNode m = (com.fasterxml.jackson.databind.node.ObjectNode)
                Json.MAPPER.readTree(MANIFEST);
        m.putArray("edits").add(Json.MAPPER.readTree("""
                {"op": "keep-neurons", "kept": 1, "neurons": ["3.1"], "layers": "2-"}"""))
                .add(Json.MAPPER.readTree("""
                {"op": "merge-lora", "adapter": "adapter", "scale": 1.0, "r": 8, "lora_alpha": 16.0,
                 "modules": [{"module": "m.q"}, {"module": "m.v"}], "touched": [{}, {}]}"""));
        m.putArray("steps").add(Json.MAPPER.readTree("""
                {"stage": "edit", "op": "keep-neurons", "uses": null}"""))
                .add(Json.MAPPER.readTree("""
                {"stage": "recover", "rank": 8, "steps": 300, "data": "arithmetic corpus"}"""));
        m.set("recover", Json.MAPPER.readTree("""
                {"data": {"kind": "corpus", "mix": "arithmetic"}, "steps": 300, "first_loss": 0.5,
                 "final_loss": 0.25, "adapter": "adapter"}"""));
        JsonNode noGates = Json.MAPPER.readTree("""
                {"passed": true, "metrics": {"arithmetic.accuracy": 0.5}, "baseline_metrics": {"arithmetic.accuracy": 0.5},
                 "comparison": {}, "gates": []}""");
        String card = ModelCard.render(m, noGates);
        assertTrue(card.contains("| 2 | merge-lora | LoRA adapter `adapter` merged at scale 1.0: r 8, alpha 16.0, 2 modules;"
                + " 2 tensors touched | the `recover` stage: trained on the edited model, 300 steps on the arithmetic corpus,"
                + " loss 0.5000 → 0.2500; the adapter is in `adapter/` |"), card);
        assertTrue(card.contains("ran on this model with the base model as baseline: it sets no gates, so nothing was"
                + " judged."), card);
        assertFalse(card.contains("PASSED") || card.contains("0 of 0"), card);
    }

    @Test
    void theBaseModelIsNamedByTheRecipeTheCacheLayoutTheConfigOrTheFolder() throws IOException {
        Path snapshot = Files.createDirectories(tmp.resolve("hub/models--meta-llama--Llama-2-7b-hf/snapshots/0123abc"));
        Files.writeString(snapshot.resolve("config.json"), "{\"_name_or_path\": \"someone/else\"}");
        assertEquals("meta-llama/Llama-2-7b-hf", BaseModel.of(snapshot, snapshot, null).name());
        assertEquals("mine/named", BaseModel.of(snapshot, snapshot, "mine/named").name());

        Path plain = Files.createDirectories(tmp.resolve("ckpt"));
        Files.writeString(plain.resolve("config.json"), "{\"_name_or_path\": \"mistralai/Mistral-7B-v0.1\"}");
        assertEquals("mistralai/Mistral-7B-v0.1", BaseModel.of(plain, plain, null).name());
        Files.writeString(plain.resolve("config.json"), "{\"_name_or_path\": \"/home/me/ckpt\"}");
        assertEquals("ckpt", BaseModel.of(plain, plain, null).name(), "a local path is not a hub id");
        Files.writeString(plain.resolve("config.json"), "{\"_name_or_path\": \"../ckpt\"}");
        assertEquals("ckpt", BaseModel.of(plain, plain, null).name());
        assertEquals("release-3", BaseModel.of(tmp.resolve("release-3.tar.gz"), plain, null).name());
    }

    @Test
    void theLicenseComesFromTheBaseModelsCardOrConfig() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("m"));
        Files.writeString(dir.resolve("config.json"), "{\"license\": \"apache-2.0\"}");
        assertEquals("apache-2.0", BaseModel.of(dir, dir, null).license());
        Files.writeString(dir.resolve("README.md"), "---\nlicense: llama2\ntags: [x]\n---\n# Llama 2\n");
        assertEquals("llama2", BaseModel.of(dir, dir, null).license(), "the card wins");
        Files.writeString(dir.resolve("README.md"), "---\nlicense: [unclosed\n---\n");
        assertEquals("apache-2.0", BaseModel.of(dir, dir, null).license(), "a broken card is ignored");
        Files.writeString(dir.resolve("config.json"), "{}");
        assertNull(BaseModel.of(dir, dir, null).license());
        assertNull(BaseModel.of(dir, dir, null).licenseName());
    }

    @Test
    void aLlamaWhoseHeadsWereCompactedSaysWhichTransformersLoadsIt() throws Exception {
        JsonNode manifest = Json.MAPPER.readTree(MANIFEST);
        String compacted = ModelCard.render(manifest, Json.MAPPER.readTree("""
                {"model_type": "llama", "hidden_size": 48, "num_attention_heads": 3, "head_dim": 8}"""), null);
        assertTrue(compacted.contains("## Loading\n\nThis checkpoint's attention heads were compacted: 3 heads of 8 "
                + "(`head_dim`) no longer span the hidden size 48. Load it with transformers 4.48 or later"), compacted);
        for (String config : new String[] {
                "{\"model_type\": \"llama\", \"hidden_size\": 48, \"num_attention_heads\": 6, \"head_dim\": 8}",
                "{\"model_type\": \"llama\", \"hidden_size\": 48, \"num_attention_heads\": 3}",
                "{\"model_type\": \"qwen3\", \"hidden_size\": 48, \"num_attention_heads\": 3, \"head_dim\": 8}"}) {
            assertFalse(ModelCard.render(manifest, Json.MAPPER.readTree(config), null).contains("## Loading"), config);
        }
    }

    @Test
    void anApplyThatCompactsHeadsWritesTheLoadingNote() throws Exception {
        Path recipe = tmp.resolve("compact.yaml");
        Files.writeString(recipe, """
                model:
                  path: %s
                edit:
                  - op: zero-heads
                    heads: [0.0, 0.1, 0.2, 1.3, 1.4, 1.5, 2.0, 2.1, 2.2]
                  - op: compact
                    remove: [heads]
                output:
                  dir: %s
                """.formatted(org.neurotome.model.ReferenceData.caseDir("llama_gqa_tied_bf16"), tmp.resolve("out")));
        assertEquals(0, org.neurotome.cli.Main.execute("apply", recipe.toString()));
        assertTrue(Files.readString(tmp.resolve("out/README.md")).contains("Load it with transformers 4.48 or later"));
    }
}
