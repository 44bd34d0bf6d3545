package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.testing.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How a recipe uses findings: a findings file named directly by an edit, findings of another
 * checkpoint refused unless allowed, and a ranking that does not rank (all values 0) refused
 * instead of editing arbitrary neurons — in the run and in the dry run alike.
 */
class RecipeFindingsTest {
    @TempDir
    Path tmp;

    Path model;
    Path findings;

    @BeforeEach
    void setUp() throws IOException {
        model = TestModels.storiesWithFixtureTokenizer(tmp);
        findings = tmp.resolve("cna.json");
        CliRun.stdout(0, "locate", model.toString(), "--method", "cna", "--prompt", "A woman works as a",
                "--contrast", "A man works as a", "--top", "5", "--json", findings.toString(), "--device", "cpu");
    }

    private Path recipe(String modelPath, String locate, String edit) throws IOException {
        Path file = tmp.resolve("recipe.yaml");
        Files.writeString(file, """
                model:
                  path: %s
                  device: cpu
                locate:
                %s
                edit:
                %s
                output:
                  dir: out
                """.formatted(modelPath, locate.indent(2).stripTrailing(), edit.indent(2).stripTrailing()));
        return file;
    }

    private static CliRun apply(Path recipe, String... more) {
        List<String> args = new ArrayList<>(List.of("apply", recipe.toString()));
        args.addAll(List.of(more));
        return CliRun.of(args.toArray(String[]::new));
    }

    @Test
    void aFindingsFileNamedDirectlyByAnEditIsApplied() throws IOException {
        Path recipe = recipe("model", "- id: saved\n  from: cna.json", "- op: zero-neurons\n  neurons: ${saved}");
        CliRun dry = apply(recipe, "--dry-run");
        assertEquals(0, dry.code(), dry.err());
        CliRun run = apply(recipe);
        assertEquals(0, run.code(), run.err());
        JsonNode ranked = Json.MAPPER.readTree(findings.toFile()).get("neurons");
        JsonNode chosen = Json.MAPPER.readTree(tmp.resolve("out/findings.json").toFile()).get("selections").get("saved");
        assertEquals(ranked.size(), chosen.size());
        for (int i = 0; i < ranked.size(); i++) {
            assertEquals(ranked.get(i).get("layer").asInt() + "." + ranked.get(i).get("neuron").asInt(), chosen.get(i).asText());
        }

        Path asHeads = recipe("model", "- id: saved\n  from: cna.json", "- op: zero-heads\n  heads: ${saved}");
        CliRun noHeads = apply(asHeads, "--dry-run", "--force");
        assertEquals(2, noHeads.code());
        assertTrue(noHeads.err().contains("locate.0.from: " + findings + ": holds no heads (a cna finding), but edit.0 use"
                + " ${saved} as heads"), noHeads.err());
    }

    @Test
    void findingsOfAnotherCheckpointAreRefusedUnlessAllowed() throws IOException {
        Path other = tmp.resolve("other");
        Files.createDirectories(other);
        try (var files = Files.list(model)) {
            for (Path f : files.toList()) {
                Files.copy(f, other.resolve(f.getFileName()));
            }
        }
        Files.writeString(other.resolve("config.json"), Files.readString(other.resolve("config.json")) + "\n");
        Path recipe = recipe("other", "- id: saved\n  from: cna.json", "- op: zero-neurons\n  neurons: ${saved}");
        for (String mode : List.of("--dry-run", "--force")) {
            CliRun run = apply(recipe, mode);
            assertEquals(2, run.code(), run.err());
            assertTrue(run.err().contains("locate.0.from: " + findings + ": was computed on another model"), run.err());
            assertTrue(run.err().contains("pass --allow-other-model"), run.err());
        }
        assertFalse(Files.exists(tmp.resolve("out")));
        assertEquals(0, apply(recipe, "--allow-other-model").code());
    }

    @Test
    void anAllZeroRankingChosenForAnEditIsRefused() throws IOException {
        String cnaAgainstItself = """
                - id: same
                  method: cna
                  prompts: ["A woman works as a"]
                  against: model
                  top: 10""";
        CliRun direct = apply(recipe("model", cnaAgainstItself, "- op: zero-neurons\n  neurons: ${same}"));
        assertEquals(2, direct.code(), direct.err());
        assertTrue(direct.err().contains("edit.0 (${same}): every chosen entry has diff 0 in the ranking of 'same'"),
                direct.err());
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");

        Path viaSelect = tmp.resolve("select.yaml");
        Files.writeString(viaSelect, """
                model:
                  path: model
                  device: cpu
                locate:
                %s
                select:
                  - id: picked
                    from: same
                    top: 3
                edit:
                  - op: zero-neurons
                    neurons: ${picked}
                output:
                  dir: out
                """.formatted(cnaAgainstItself.indent(2).stripTrailing()));
        CliRun selected = apply(viaSelect);
        assertEquals(2, selected.code(), selected.err());
        assertTrue(selected.err().contains("select 'picked': every chosen entry has diff 0"), selected.err());
    }
}
