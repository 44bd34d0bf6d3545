package org.neurotome.cna;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.arch.Head;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.GreedyDecoder;
import org.neurotome.model.HeadScale;
import org.neurotome.model.LanguageModel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The head scan over a data set against a plain recomputation: for every head, every case
 * is run over prompt + target in one padded batch with the head ablated and logits at every
 * position, a case counts as correct when every target token is the argmax at the position before it,
 * and its log-probability is the sum over the target tokens. The cases are arithmetic prompts
 * whose targets are the model's own two greedy tokens (so the unablated accuracy is 100 % and
 * ablations move it); the scan runs in batches small enough to split cases and heads.
 */
class HeadScanDatasetTest {
    @TempDir
    static Path tmp;
    static LanguageModel model;
    static PromptSet prompts;

    @BeforeAll
    static void setUp() {
        Path dir = RandomCheckpoint.write(tmp.resolve("llama"), RandomCheckpoint.llama(3, 4, 8, 64), 11, 0.3);
        model = LanguageModel.open(dir, Device.cpu());
        List<EvalCase> all = EvalCaseFile.read(Path.of("eval/datasets/arithmetic.jsonl"));
        List<PromptSet.Case> cases = new ArrayList<>();
        for (int i = 0; i < all.size(); i += 37) {
            EvalCase c = all.get(i);
            int[] prompt = model.encode(c.prompt());
            int[] greedy = GreedyDecoder.generate(model.transformer(), prompt, 2, Set.of());
            Map<String, Object> labels = new LinkedHashMap<>();
            labels.put("operation", c.label("operation"));
            labels.put("template", c.intLabel("template"));
            cases.add(new PromptSet.Case(c.prompt(), prompt, greedy, new java.util.LinkedHashMap<>(labels)));
        }
        prompts = PromptSet.of(cases);
    }

    @AfterAll
    static void tearDown() {
        model.close();
    }

    @Test
    void accuracyAndLogprobPerHeadEqualOneFullForwardPerCase() {
        long perRow = HeadScan.elementsPerRow(model.config(), prompts.maxContext());
        HeadScanResult r = HeadScan.run(model, prompts, new HeadScan.Options(5 * perRow, null, Progress.NONE));
        assertEquals(List.of("operation", "template"), r.groupBy());
        assertEquals(100.0, r.baseAccuracy(), "targets are the model's own greedy tokens");
        Recomputed base = recompute(null);
        Close.assertAbs("base logprob", base.meanLogprob, r.baseLogprob(), 1e-4);
        boolean someHeadMatters = false;
        for (int l = 0; l < model.config().numLayers(); l++) {
            for (int h = 0; h < model.config().numHeads(); h++) {
                Head head = new Head(l, h);
                Recomputed x = recompute(head);
                HeadScanResult.HeadEffect e = r.effect(head);
                assertEquals(x.accuracy(null, null), e.accuracy(), 1e-9, head + " accuracy");
                assertEquals(100.0 - x.accuracy(null, null), e.accuracyDrop(), 1e-9, head + " accuracy drop");
                Close.assertAbs(head + " mean logprob", x.meanLogprob, e.logprob(), 1e-4);
                Close.assertAbs(head + " mean prob", x.meanProb, e.prob(), 1e-4);
                e.byLabel().forEach((key, values) -> values.forEach((value, acc) ->
                        assertEquals(x.accuracy(key, value), acc.accuracy(), 1e-9, head + " " + key + "=" + value)));
                someHeadMatters |= e.accuracyDrop() > 0;
            }
        }
        assertTrue(someHeadMatters, "no ablation changed any prediction: the test would prove nothing");
        List<HeadScanResult.HeadEffect> ranked = r.ranked();
        for (int i = 1; i < ranked.size(); i++) {
            assertTrue(ranked.get(i - 1).accuracyDrop() >= ranked.get(i).accuracyDrop(), "ranked by accuracy drop");
        }
    }

    private record Recomputed(List<Boolean> correct, double meanLogprob, double meanProb, List<PromptSet.Case> cases) {
        double accuracy(String key, String value) {
            int n = 0;
            int ok = 0;
            for (int i = 0; i < cases.size(); i++) {
                if (key == null || value.equals(String.valueOf(cases.get(i).labels().get(key)))) {
                    n++;
                    ok += correct.get(i) ? 1 : 0;
                }
            }
            return 100.0 * ok / n;
        }
    }

    /** Every case as one row over prompt + target, logits at every position, {@code head} (or nothing) ablated. */
    private static Recomputed recompute(Head head) {
        List<int[]> rows = new ArrayList<>();
        List<HeadScale> ablate = new ArrayList<>();
        for (PromptSet.Case c : prompts.cases()) {
            int[] full = new int[c.prompt().length + c.target().length];
            System.arraycopy(c.prompt(), 0, full, 0, c.prompt().length);
            System.arraycopy(c.target(), 0, full, c.prompt().length, c.target().length);
            if (head != null) {
                ablate.add(new HeadScale(rows.size(), head.layer(), head.head(), 0f));
            }
            rows.add(full);
        }
        List<Boolean> correct = new ArrayList<>();
        double lpSum = 0;
        double pSum = 0;
        try (ForwardResult fr = model.transformer().forward(ForwardRequest.tokens(rows).withAllLogits()
                .withHeadScales(ablate))) {
            NDArray lsm = fr.logits().logSoftmax(2);                                            // [B, S, V]
            for (int i = 0; i < rows.size(); i++) {
                PromptSet.Case c = prompts.cases().get(i);
                boolean ok = true;
                double lp = 0;
                for (int j = 0; j < c.target().length; j++) {
                    float[] row = lsm.get(i, c.prompt().length - 1 + j).toFloatArray();
                    lp += row[c.target()[j]];
                    ok &= GreedyDecoder.argmax(row) == c.target()[j];
                }
                correct.add(ok);
                lpSum += lp;
                pSum += Math.exp(lp);
            }
        }
        int n = prompts.cases().size();
        return new Recomputed(correct, lpSum / n, pSum / n, prompts.cases());
    }
}
