package org.neurotome.cli;

import org.neurotome.testing.TestModels;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Manifest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neurotome apply} end to end on a small real model (stories260K with the fixture
 * tokenizer): dry run, the written checkpoint and its provenance, determinism, the input
 * left untouched, gates deciding the exit code, and recipe errors exiting 2.
 */
class ApplyCommandTest {
    @TempDir
    Path tmp;


    private Path model() throws IOException {
        return TestModels.storiesWithFixtureTokenizer(tmp);
    }

    private Path recipe(String gate) throws IOException {
        Path datasets = Path.of("eval/datasets").toAbsolutePath();
        Files.writeString(tmp.resolve("suite.yaml"), """
                name: quick
                tasks:
                  - kind: arithmetic
                    dataset: %s/arithmetic.jsonl
                    where: {template: 3, digits: 1}
                    limit: 6
                  - kind: language
                    dataset: %s/language.jsonl
                    limit: 6
                gates:
                  - %s
                """.formatted(datasets, datasets, gate));
        Path file = tmp.resolve("recipe.yaml");
        Files.writeString(file, """
                description: zero the two heads that matter most for one prompt
                model:
                  path: model
                  device: cpu
                locate:
                  - id: scan
                    method: head-scan
                    prompts: ["3+5="]
                    top: 5
                select:
                  - id: top_heads
                    from: scan
                    top: 2
                edit:
                  - op: zero-heads
                    heads: ${top_heads}
                output:
                  dir: out
                eval:
                  suite: suite.yaml
                """);
        return file;
    }

    private static String fingerprint(Path dir) throws IOException {
        return TestModels.contentHashes(dir).toString();
    }

    @Test
    void appliesARecipeWithProvenanceDeterministicallyAndLeavesTheInputAlone() throws Exception {
        Path model = model();
        String before = fingerprint(model);
        Path recipe = recipe("language.perplexity.rel_change <= 10");

        String plan = CliRun.stdout(0, "apply", recipe.toString(), "--dry-run");
        assertTrue(plan.contains("locate   scan: head-scan on 1 case"), plan);
        assertTrue(plan.contains("edit     zero-heads on ${top_heads} chosen at run time"), plan);
        assertFalse(Files.exists(tmp.resolve("out")), "a dry run writes nothing");

        CliRun.stdout(0, "apply", recipe.toString());
        Path out = tmp.resolve("out");
        for (String f : List.of("model.safetensors", "config.json", "tokenizer.json", "recipe.yaml", "findings.json",
                Manifest.FILE, "eval/report.json", "eval/report.html")) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        assertArrayEquals(Files.readAllBytes(recipe), Files.readAllBytes(out.resolve("recipe.yaml")), "recipe copied verbatim");
        JsonNode findings = Json.MAPPER.readTree(out.resolve("findings.json").toFile());
        JsonNode chosen = findings.get("selections").get("top_heads");
        assertEquals(2, chosen.size());
        JsonNode ranked = findings.get("steps").get("scan").get("heads");
        assertEquals(ranked.get(0).get("layer").asInt() + "." + ranked.get(0).get("head").asInt(), chosen.get(0).asText());

        JsonNode diff = Json.MAPPER.readTree(CliRun.stdout(0, "diff", model.toString(), out.toString(), "--json"));
        java.util.Set<String> changed = new java.util.TreeSet<>();
        diff.get("heads").forEach(h -> changed.add(h.get("head").asText()));
        java.util.Set<String> selected = new java.util.TreeSet<>();
        chosen.forEach(h -> selected.add(h.asText()));
        assertEquals(selected, changed, "exactly the two selected heads are zeroed");
        CliRun.stdout(0, "verify", out.toString());

        JsonNode manifest = Json.MAPPER.readTree(out.resolve(Manifest.FILE).toFile());
        assertEquals(Manifest.fingerprint(model), manifest.get("input").get("sha256").asText());
        assertEquals(64, manifest.get("recipe").get("sha256").asText().length());
        assertTrue(manifest.get("edits").get(0).get("touched").size() >= 2, "o and q projections at least");

        Path again = tmp.resolve("again");
        CliRun.stdout(0, "apply", recipe.toString(), "--out", again.toString());
        for (String f : List.of("model.safetensors", "config.json", "tokenizer.json", "recipe.yaml", "findings.json")) {
            assertArrayEquals(Files.readAllBytes(out.resolve(f)), Files.readAllBytes(again.resolve(f)), f + " is deterministic");
        }
        ObjectNode m1 = (ObjectNode) Json.MAPPER.readTree(out.resolve(Manifest.FILE).toFile());
        ObjectNode m2 = (ObjectNode) Json.MAPPER.readTree(again.resolve(Manifest.FILE).toFile());
        m1.remove("timings");
        m2.remove("timings");
        assertEquals(m1, m2, "the manifest differs only in its timings");
        assertEquals(before, fingerprint(model), "the input checkpoint is unchanged");

        assertEquals(4, Main.execute("apply", recipe.toString()), "an existing output is refused without --force");
        CliRun.stdout(0, "apply", recipe.toString(), "--force");
    }

    @Test
    void theSameRecipeWritesTheSameBytesFromAnyWorkingDirectory() throws Exception {
        model();
        recipe("language.perplexity.rel_change <= 10");
        Path elsewhere = Files.createDirectories(tmp.resolve("a/b"));
        runIn(tmp, "recipe.yaml");
        Files.move(tmp.resolve("out"), tmp.resolve("first"));
        runIn(elsewhere, "../../recipe.yaml");
        for (String f : List.of("findings.json", "eval/report.json", Manifest.FILE)) {
            ObjectNode a = (ObjectNode) Json.MAPPER.readTree(tmp.resolve("first").resolve(f).toFile());
            ObjectNode b = (ObjectNode) Json.MAPPER.readTree(tmp.resolve("out").resolve(f).toFile());
            a.remove("timings");
            b.remove("timings");
            assertEquals(a, b, f + " does not depend on the working directory");
            assertFalse(a.toString().contains(tmp.toString()), f + " records no absolute path: " + a);
        }
        JsonNode manifest = Json.MAPPER.readTree(tmp.resolve("out").resolve(Manifest.FILE).toFile());
        assertEquals("model", manifest.get("input").get("dir").asText());
        assertEquals("recipe.yaml", manifest.get("recipe").get("path").asText());
        JsonNode findings = Json.MAPPER.readTree(tmp.resolve("out/findings.json").toFile());
        assertEquals("model", findings.get("steps").get("scan").get("model").get("path").asText());
    }

    /** Runs {@code apply RECIPE} in a fresh JVM whose working directory is {@code cwd}. */
    private void runIn(Path cwd, String recipe) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Dai.djl.offline=true", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "apply", recipe)
                .directory(cwd.toFile()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
    }

    @Test
    void aDryRunCatchesACompactThatWouldSplitAKeyValueGroup() throws Exception {
        model();
        Path recipe = tmp.resolve("compact.yaml");
        Files.writeString(recipe, """
                model:
                  path: model
                  device: cpu
                locate:
                  - id: attr
                    method: attribution
                    prompts: ["3+5="]
                    top: 3
                select:
                  - id: neurons
                    from: attr
                    kind: neurons
                edit:
                  - op: zero-neurons
                    neurons: ${neurons}
                  - op: zero-heads
                    heads: [0.0]
                  - op: compact
                output:
                  dir: out
                """);
        CliRun dry = CliRun.of("apply", recipe.toString(), "--dry-run");
        assertEquals(2, dry.code(), dry.err());
        assertTrue(dry.err().contains("layer 0 zeroes only part of key/value group 0")
                && dry.err().contains("(remove: [neurons] compacts the neurons only)"), dry.err());
    }

    @Test
    void aFailingGateExitsOneAndRecipeErrorsExitTwo() throws Exception {
        model();
        Path recipe = recipe("arithmetic.accuracy >= 0.99");
        CliRun.stdout(1, "apply", recipe.toString());
        assertTrue(Files.exists(tmp.resolve("out").resolve("eval/report.json")), "the report says why");

        Files.writeString(recipe, Files.readString(recipe).replace("op: zero-heads", "op: zero-head"));
        assertEquals(2, Main.execute("apply", recipe.toString(), "--force"));
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".out")), "no partial output left");
        }
    }
}
