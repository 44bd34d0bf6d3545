package org.neurotome.cna;

import ai.djl.Device;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.model.LanguageModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A head scan split into shards of whole batches ({@link HeadScan#runShard}), each written to
 * its file and read back, merged into the result of the unsharded scan: the 1,600 prompts of the
 * arithmetic and gender data sets on the Llama fixture in 8 shards give the same findings file
 * byte for byte (so the same ranking and every number equal), and every step's score is the same
 * float (about 30 s on 2 cores: tagged slow, run by {@code .ci/run}; the default run splits 20
 * prompts into more shards than batches). Shards that are missing, out of order or of other
 * prompts are refused.
 */
class HeadScanShardTest {
    @TempDir
    static Path tmp;
    static LanguageModel model;
    static PromptSet prompts;

    @BeforeAll
    static void setUp() {
        model = LanguageModel.open(Path.of("checkpoints", "fixture-llama"), Device.cpu());
        List<EvalCase> cases = Stream.concat(EvalCaseFile.read(Path.of("eval/datasets/arithmetic.jsonl")).stream(),
                EvalCaseFile.read(Path.of("eval/datasets/gender.jsonl")).stream()).limit(1600).toList();
        prompts = PromptSet.ofCases(model, cases, "arithmetic+gender");
    }

    @AfterAll
    static void tearDown() {
        model.close();
    }

    @Test
    @Tag("slow")
    void eightShardsOf1600PromptsMergeIntoTheUnshardedFindings() throws IOException {
        assertEquals(1600, prompts.cases().size());
        HeadScan.Options options = HeadScan.Options.defaults().withGroupBy(List.of("operation"));
        HeadScanResult whole = HeadScan.run(model, prompts, options);
        List<HeadScanShard> shards = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            Path file = tmp.resolve("shard-" + i + ".bin");
            HeadScanShard s = HeadScan.runShard(model, prompts, i, 8, options);
            assertTrue(s.steps() > 0, "shard " + i + " is empty: the test would not split the batches");
            s.write(file);
            HeadScanShard back = HeadScanShard.read(file);
            assertEquals(s, back, "shard " + i + " read back");
            shards.add(back);
        }
        HeadScanResult merged = HeadScanResult.merge(prompts, shards, options.groupBy());
        for (int s = 0; s < prompts.steps().size(); s++) {
            for (int l = 0; l < whole.layers(); l++) {
                for (int h = 0; h < whole.heads(); h++) {
                    Head head = new Head(l, h);
                    assertEquals(whole.stepLogprob(head, s), merged.stepLogprob(head, s), 0f, head + " step " + s);
                    assertEquals(whole.stepTop1(head, s), merged.stepTop1(head, s), head + " step " + s);
                }
            }
        }
        assertArrayEquals(whole.targets(), merged.targets());
        assertEquals(whole.ranked().stream().map(HeadScanResult.HeadEffect::head).toList(),
                merged.ranked().stream().map(HeadScanResult.HeadEffect::head).toList());
        assertTrue(whole.ranked().getFirst().accuracyDrop() > 0, "no head matters: the comparison would prove little");
        Provenance p = new Provenance(Provenance.model(model), null, null,
                Json.MAPPER.createObjectNode().put("method", "head-scan"));
        Findings.headScan(whole, p, 0, model.tokenizer().orElseThrow(), true).write(tmp.resolve("whole.json"));
        Findings.headScan(merged, p, 0, model.tokenizer().orElseThrow(), true).write(tmp.resolve("merged.json"));
        assertEquals(Files.readString(tmp.resolve("whole.json")), Files.readString(tmp.resolve("merged.json")));
    }

    @Test
    void moreShardsThanBatchesLeaveSomeEmptyAndStillMerge() {
        PromptSet few = PromptSet.of(prompts.cases().subList(0, 20));
        long perRow = HeadScan.elementsPerRow(model.config(), few.maxContext());
        HeadScan.Options options = new HeadScan.Options(8 * 3 * perRow, null, Progress.NONE);   // 3 cases a batch
        HeadScanResult whole = HeadScan.run(model, few, options);
        List<HeadScanShard> shards = new ArrayList<>();
        for (int i = 0; i < 11; i++) {
            shards.add(HeadScan.runShard(model, few, i, 11, options));
        }
        assertTrue(shards.stream().anyMatch(s -> s.steps() == 0), "7 batches in 11 shards leave some empty");
        HeadScanResult merged = HeadScanResult.merge(few, shards, null);
        assertEquals(whole.ranked(), merged.ranked());
    }

    @Test
    void shardsMissingOutOfOrderOrOfOtherPromptsAreRefused() {
        PromptSet few = PromptSet.of(prompts.cases().subList(0, 12));
        PromptSet other = PromptSet.of(prompts.cases().subList(1, 13));
        HeadScan.Options options = new HeadScan.Options(8 * 4 * HeadScan.elementsPerRow(model.config(),
                few.maxContext()), null, Progress.NONE);
        HeadScanShard a = HeadScan.runShard(model, few, 0, 2, options);
        HeadScanShard b = HeadScan.runShard(model, few, 1, 2, options);
        HeadScanShard otherB = HeadScan.runShard(model, other, 1, 2, options);
        for (List<HeadScanShard> bad : List.of(List.of(a), List.of(b, a), List.of(a, otherB))) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> HeadScanResult.merge(few, bad, null));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode(), e.getMessage());
        }
        assertThrows(NeurotomeException.class, () -> HeadScan.runShard(model, few, 2, 2, options));
    }

    @Test
    void aFileThatIsNotAShardIsRefusedNamingIt() throws IOException {
        Path file = tmp.resolve("not-a-shard.bin");
        Files.writeString(file, "{}");
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> HeadScanShard.read(file));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
    }
}
