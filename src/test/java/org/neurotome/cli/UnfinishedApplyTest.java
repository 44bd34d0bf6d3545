package org.neurotome.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Sha256;
import org.neurotome.testing.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An {@code apply} that fails after its checkpoint is written never replaces the earlier
 * output (README "Safety"): the eval, the model card and the archive all happen in the partial
 * directory, moved into place only at the very end. What a run killed outright leaves beside the
 * output is swept by the next run — an earlier output moved aside during the final swap comes
 * back — and a failed run removes the folders it created.
 */
class UnfinishedApplyTest {
    @TempDir
    Path tmp;

    Path recipe;

    @BeforeEach
    void setUp() throws IOException {
        TestModels.copy(Path.of("checkpoints/fixture-gpt2"), tmp.resolve("model"));
        suite(false);
        recipe = tmp.resolve("recipe.yaml");
        Files.writeString(recipe, """
                model:
                  path: model
                  device: cpu
                edit:
                  - op: zero-heads
                    heads: [0.1]
                output:
                  dir: out
                  archive: tar
                eval:
                  suite: suite.yaml
                """);
    }

    /**
     * A suite of a few language cases; with {@code tooLong}, one case whose prompt is longer than
     * the model's 32 learned positions, which the eval refuses (exit 2) only once it reaches it.
     */
    private void suite(boolean tooLong) throws IOException {
        StringBuilder cases = new StringBuilder();
        for (String prompt : List.of("The farmer", "The child", "The blanket")) {
            cases.append("{\"prompt\":\"").append(prompt).append("\",\"target\":\" was clean.\",\"labels\":{\"kind\":\"language\"}}\n");
        }
        if (tooLong) {
            cases.append("{\"prompt\":\"").append("The farmer sold the lamp behind the bridge. ".repeat(6).strip())
                    .append("\",\"target\":\" was clean.\",\"labels\":{\"kind\":\"language\"}}\n");
        }
        Files.writeString(tmp.resolve("language.jsonl"), cases);
        Files.writeString(tmp.resolve("suite.yaml"), """
                name: quick
                tasks:
                  - kind: language
                    dataset: language.jsonl
                gates:
                  - language.perplexity.rel_change <= 10
                """);
    }

    @Test
    void anEvalErrorAfterTheWriteLeavesTheEarlierOutputAndItsArchive() throws Exception {
        CliRun.stdout(0, "apply", recipe.toString());
        Path out = tmp.resolve("out");
        Map<String, String> earlier = TestModels.treeHashes(out);
        String archive = Sha256.hex(tmp.resolve("out.tar"));

        suite(true);
        Files.writeString(recipe, Files.readString(recipe).replace("heads: [0.1]", "heads: [1.2]"));
        CliRun run = CliRun.of("apply", recipe.toString(), "--force");
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains("longer than the model"), run.err());
        assertEquals(earlier, TestModels.treeHashes(out), "the earlier output is untouched");
        assertEquals(archive, Sha256.hex(tmp.resolve("out.tar")), "and so is its archive");
        assertEquals(0, Main.execute("verify", out.toString()));
        assertEquals(List.of(), TestModels.hiddenEntries(tmp), "no partial directory, archive or lock left");
    }

    @Test
    void aFailedApplyRemovesTheFoldersItCreated() throws Exception {
        suite(true);
        Path deep = tmp.resolve("new/deeper/out");
        CliRun run = CliRun.of("apply", recipe.toString(), "--out", deep.toString());
        assertEquals(2, run.code(), run.err());
        assertFalse(Files.exists(tmp.resolve("new")), "no empty folders left behind");
    }

    @Test
    void whatAKilledRunLeftIsSweptAndAnOutputMovedAsideComesBack() throws Exception {
        CliRun.stdout(0, "apply", recipe.toString());
        Path out = tmp.resolve("out");
        Map<String, String> earlier = TestModels.treeHashes(out);

        // a run killed between the two renames of the final swap: the earlier output is aside,
        // the finished new one still in its partial directory, nothing under the output's name
        long dead = TestModels.deadPid();
        Files.move(out, tmp.resolve(".out.replaced-" + dead));
        Files.delete(tmp.resolve("out.tar")); // removed before the swap, so that it never stands beside another output
        Files.createDirectories(tmp.resolve(".out.partial-" + dead));
        Files.writeString(tmp.resolve(".out.partial-" + dead).resolve("model.safetensors"), "half");
        CliRun refused = CliRun.of("apply", recipe.toString());
        assertEquals(4, refused.code(), refused.err());
        assertTrue(refused.err().contains("already exists; pass --force"), refused.err());
        assertEquals(earlier, TestModels.treeHashes(out), "the earlier output is back under its name");
        assertEquals(List.of(), TestModels.hiddenEntries(tmp), "the dead run's partial is gone");

        // killed while deleting the earlier output once the new one was in place
        Files.createDirectories(tmp.resolve(".out.replaced-" + dead));
        Files.writeString(tmp.resolve(".out.replaced-" + dead).resolve("model.safetensors"), "old");
        Files.createDirectories(tmp.resolve(".out.tar.partial-" + dead));
        CliRun.stdout(0, "apply", recipe.toString(), "--force");
        assertEquals(List.of(), TestModels.hiddenEntries(tmp), "stale entries beside an existing output are removed");
        assertEquals(0, Main.execute("verify", out.toString()));
    }
}
