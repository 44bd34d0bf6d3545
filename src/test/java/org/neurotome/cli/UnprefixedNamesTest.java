package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.checkpoint.SafetensorsFile;
import org.neurotome.model.ReferenceData;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPT-2 and GPT-J checkpoints whose tensor names lack the {@code transformer.} prefix (the
 * layout of the files transformers' own GPT-2 repositories ship, and of a bare GPTJModel
 * saved): they run as their prefixed twins do, and every edit, {@code merge-lora} and the
 * {@code recover} stage write the same tensors under the input's own names.
 */
class UnprefixedNamesTest {
    private static final String PREFIX = "transformer.";

    @TempDir
    Path tmp;

    /** A copy of checkpoint {@code src} (every file) with the prefix taken off each tensor name that has it. */
    private static Path unprefixed(Path src, Path out) throws IOException {
        List<OutputTensor> tensors = new ArrayList<>();
        Map<String, byte[]> files = new TreeMap<>();
        try (Checkpoint ck = Checkpoint.open(src); Stream<Path> list = Files.list(src)) {
            for (String name : ck.tensors().keySet()) {
                OutputTensor t = OutputTensor.copyOf(ck, name);
                tensors.add(new OutputTensor(name.startsWith(PREFIX) ? name.substring(PREFIX.length()) : name,
                        t.dtype(), t.shape(), t.body()));
            }
            for (Path f : list.toList()) {
                String n = f.getFileName().toString();
                if (Files.isRegularFile(f) && !n.endsWith(".safetensors") && !n.equals(Checkpoint.INDEX)
                        && !n.equals("expected.json") && !n.equals("greedy.json")) {
                    files.put(n, Files.readAllBytes(f));
                }
            }
            new CheckpointWriter(Long.MAX_VALUE, ck.metadata(), false).write(out, tensors, files);
        }
        return out;
    }

    /** Every tensor of the checkpoint in {@code dir}, by name, as stored. */
    private static Map<String, byte[]> tensors(Path dir) {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path f : list.filter(p -> p.toString().endsWith(".safetensors")).toList()) {
                try (SafetensorsFile s = SafetensorsFile.open(f)) {
                    s.tensors().values().forEach(t -> out.put(t.name(),
                            s.bytes(t).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out;
    }

    /** Runs {@code edits} (recipe YAML lines) on {@code model} into {@code out}; returns the output's tensors. */
    private Map<String, byte[]> apply(Path model, String edits, Path out) throws IOException {
        Path recipe = tmp.resolve("recipe-" + out.getFileName() + ".yaml");
        Files.writeString(recipe, "model:\n  path: " + model + "\n" + edits + "output:\n  dir: " + out + "\n");
        CliRun run = CliRun.of("apply", recipe.toString(), "--threads", "1");
        assertEquals(0, run.code(), run.err());
        return tensors(out);
    }

    /** The same edits on the prefixed and the unprefixed copy give the same tensors, each under its input's name. */
    private void sameEdits(Path prefixed, String edits, String label) throws IOException {
        Path bare = unprefixed(prefixed, tmp.resolve(label + "-bare-in"));
        Map<String, byte[]> withPrefix = apply(prefixed, edits, tmp.resolve(label + "-prefixed-out"));
        Map<String, byte[]> without = apply(bare, edits, tmp.resolve(label + "-bare-out"));
        assertTrue(withPrefix.keySet().stream().anyMatch(n -> n.startsWith(PREFIX)), label);
        assertFalse(without.keySet().stream().anyMatch(n -> n.startsWith(PREFIX)), label + ": the output keeps the "
                + "input's names: " + without.keySet());
        assertEquals(withPrefix.size(), without.size(), label);
        withPrefix.forEach((name, bytes) -> assertArrayEquals(bytes,
                without.get(name.startsWith(PREFIX) ? name.substring(PREFIX.length()) : name), label + ": " + name));
        assertTrue(CliRun.of("verify", tmp.resolve(label + "-bare-out").toString()).code() == 0, label + " verifies");
    }

    @Test
    void bothFamiliesRunAsTheirPrefixedTwins() throws IOException {
        for (String name : List.of("gpt2_tied", "gpt2_odd_untied", "gptj_partial_rotary")) {
            Path prefixed = ReferenceData.caseDir(name);
            Path bare = unprefixed(prefixed, tmp.resolve(name));
            String[] args = {"--ids", "3,1,4,1,5", "--json", "--logits"};
            JsonNode a = Json.MAPPER.readTree(CliRun.stdout(0, concat("predict", prefixed.toString(), args)));
            JsonNode b = Json.MAPPER.readTree(CliRun.stdout(0, concat("predict", bare.toString(), args)));
            assertEquals(a.path("logits"), b.path("logits"), name);
            CliRun inspect = CliRun.of("inspect", bare.toString(), "--json");
            assertEquals(0, inspect.code(), inspect.err());
            assertTrue(Json.MAPPER.readTree(inspect.out()).path("supported").asBoolean(), name);
        }
    }

    @Test
    void everyEditAndMergeLoraKeepTheInputsNames() throws IOException {
        String edits = """
                edit:
                  - op: zero-heads
                    heads: [1.2]
                  - op: scale-neurons
                    neurons: [[0, 4], [1, 6]]
                    factor: 0.5
                  - op: zero-neurons
                    neurons: [[0, 3], [1, 5]]
                  - op: compact
                    remove: [neurons]
                """;
        for (String name : List.of("gpt2_tied", "gptj_partial_rotary")) {
            sameEdits(ReferenceData.caseDir(name), edits, name + "-edits");
            sameEdits(ReferenceData.caseDir(name), """
                    edit:
                      - op: merge-lora
                        adapter: %s
                        scale: 0.75
                    """.formatted(Path.of("src/test/resources/lora", name, "adapter").toAbsolutePath()), name + "-merge");
        }
    }

    @Test
    void theRecoverStageKeepsTheInputsNames() throws IOException {
        sameEdits(Path.of("checkpoints/fixture-gpt2").toAbsolutePath(), """
                edit:
                  - op: zero-neurons
                    neurons: [[3, 7]]
                recover:
                  corpus: arithmetic
                  layers: 3
                  steps: 2
                  batch_size: 4
                """, "fixture-recover");
    }

    private static String[] concat(String a, String b, String[] rest) {
        String[] all = new String[rest.length + 2];
        all[0] = a;
        all[1] = b;
        System.arraycopy(rest, 0, all, 2, rest.length);
        return all;
    }
}
