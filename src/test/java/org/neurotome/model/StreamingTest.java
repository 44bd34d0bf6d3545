package org.neurotome.model;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.ExitCode;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.cna.RandomCheckpoint;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Streamed weights give what kept weights give: on every reference case, with a budget just
 * above the least that streaming needs (so every layer is widened per use and the unembedding
 * is not kept), and with room for a second layer widened ahead, logits and every tap equal
 * those of the kept weights within 1e-6, alone, in a padded batch, and run layer-major over
 * several requests. A vocabulary larger than a layer
 * is projected in blocks, which give the logits of a direct projection. A budget below one
 * layer is refused with the smallest one that works.
 */
class StreamingTest {
    static final double TOLERANCE = 1e-6;

    static List<String> cases() {
        return ReferenceData.caseNames();
    }

    /** A budget that streams {@code ckpt} one layer at a time, the unembedding read in blocks. */
    static MemoryBudget tight(Checkpoint ckpt) {
        return MemoryBudget.of(Residency.streamingFloor(ckpt) + 1024, "a test budget");
    }

    /** A budget that streams {@code ckpt} with the next layer widened while one runs. */
    static MemoryBudget prefetching(Checkpoint ckpt) {
        long floor = Residency.streamingFloor(ckpt);
        long buffer = Residency.of(ckpt, MemoryBudget.of(floor, "")).bufferBytes();
        MemoryBudget b = MemoryBudget.of(floor + buffer, "a prefetching test budget");
        Residency r = Residency.of(ckpt, b);
        assertTrue(r.streaming() && r.layerBuffers() == 2, ckpt.dir() + ": " + r);
        return b;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void streamedWeightsGiveTheLogitsAndTapsOfKeptWeights(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        List<int[]> ids = new ArrayList<>();
        prompts.forEach(p -> ids.add(ReferenceData.ints(p.path("ids"))));
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir(name));
             Weights kept = Weights.load(ckpt, Device.cpu());
             Weights streamed = Weights.load(ckpt, Device.cpu(), tight(ckpt));
             Weights prefetched = Weights.load(ckpt, Device.cpu(), prefetching(ckpt));
             Transformer a = new Transformer(kept);
             Transformer b = new Transformer(streamed);
             Transformer p = new Transformer(prefetched)) {
            assertFalse(kept.streaming(), name + ": kept");
            assertTrue(streamed.streaming(), name + ": streamed");
            List<String> taps = Tap.all(kept.config());
            List<ForwardRequest> requests = new ArrayList<>();
            for (int[] row : ids) {
                requests.add(ForwardRequest.tokens(row).withTaps(taps));
            }
            requests.add(ForwardRequest.tokens(ids).withTaps(taps).withAllLogits());
            List<Map<String, float[]>> expected = new ArrayList<>();
            for (ForwardRequest r : requests) {
                try (ForwardResult fr = a.forward(r)) {
                    expected.add(values(fr));
                }
                try (ForwardResult fr = b.forward(r)) {
                    assertSame(name + " streamed, " + r.batchSize() + " rows", expected.getLast(), values(fr));
                }
                try (ForwardResult fr = p.forward(r)) {
                    assertSame(name + " prefetched, " + r.batchSize() + " rows", expected.getLast(), values(fr));
                }
            }
            b.forwardEach(requests, (i, fr) -> assertSame(name + " layer-major request " + i, expected.get(i), values(fr)));
            p.forwardEach(requests, (i, fr) -> assertSame(name + " layer-major prefetched " + i, expected.get(i),
                    values(fr)));
        }
    }

    @Test
    void aVocabularyLargerThanALayerIsProjectedInBlocks(@TempDir Path tmp) {
        ModelConfig c = RandomCheckpoint.llama(1, 2, 4, 8, 3001);
        Path dir = RandomCheckpoint.writeWeights(tmp.resolve("model"), c, 7, 0.5);
        try (Checkpoint ckpt = Checkpoint.open(dir);
             Weights kept = Weights.load(ckpt, Device.cpu());
             Weights streamed = Weights.load(ckpt, Device.cpu(), tight(ckpt));
             Transformer a = new Transformer(kept);
             Transformer b = new Transformer(streamed);
             ForwardResult ra = a.forward(ForwardRequest.tokens(new int[] {5, 2999, 17}).withTaps(Tap.residPost(0)));
             ForwardResult rb = b.forward(ForwardRequest.tokens(new int[] {5, 2999, 17}))) {
            float[] x = ra.tap(Tap.residPost(0)).toFloatArray();
            float[] g = ckpt.floats("model.norm.weight");
            float[] unembed = ckpt.floats("lm_head.weight");
            double ms = 0;
            for (float v : x) {
                ms += (double) v * v / x.length;
            }
            float[] expected = new float[c.vocabSize()];
            for (int t = 0; t < expected.length; t++) {
                double z = 0;
                for (int i = 0; i < x.length; i++) {
                    z += x[i] / Math.sqrt(ms + c.normEps()) * g[i] * unembed[t * x.length + i];
                }
                expected[t] = (float) z;
            }
            ReferenceConformanceTest.assertClose("blocked logits against a direct projection", expected, ra.lastLogits(0),
                    1e-4, false);
            ReferenceConformanceTest.assertClose("streamed blocked logits", ra.lastLogits(0), rb.lastLogits(0), TOLERANCE,
                    false);
        }
    }

    @Test
    void aBudgetBelowOneLayerIsRefusedWithTheSmallestThatWorks() {
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir("stories260K"))) {
            long floor = Residency.streamingFloor(ckpt);
            NeurotomeException e = assertThrows(NeurotomeException.class,
                    () -> Weights.load(ckpt, Device.cpu(), MemoryBudget.of(floor - 1, "--max-memory tiny")));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode());
            assertTrue(e.getMessage().startsWith("--max-memory tiny leaves "), e.getMessage());
            assertTrue(e.getMessage().contains("layer 0 widens to "), e.getMessage());
            String smallest = e.getMessage().replaceAll(".*the smallest --max-memory that works is ", "")
                    .replaceAll(" \\(.*", "");
            MemoryBudget enough = MemoryBudget.parse(smallest);
            try (Weights w = Weights.load(ckpt, Device.cpu(), enough)) {
                assertEquals(kept(ckpt), logits(w), "a model opened with the suggested budget runs");
            }
        }
    }

    @Test
    void sizesReadAsTheJvmWritesThem() {
        assertEquals(512L << 20, MemoryBudget.parse("512m").limit());
        assertEquals(4L << 30, MemoryBudget.parse("4g").limit());
        assertEquals(3L << 29, MemoryBudget.parse("1.5G").limit());
        assertEquals(8L << 30, MemoryBudget.parse("8GiB").limit());
        assertEquals(1000, MemoryBudget.parse("1000").limit());
        for (String bad : new String[] {"lots", "0", "-1g", "4x", "", "0.0001"}) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> MemoryBudget.parse(bad), bad);
            assertEquals(ExitCode.BAD_INPUT, e.exitCode());
            assertTrue(e.getMessage().contains("512m"), e.getMessage());
        }
    }

    private static List<Float> kept(Checkpoint ckpt) {
        try (Weights w = Weights.load(ckpt, Device.cpu())) {
            return logits(w);
        }
    }

    private static List<Float> logits(Weights w) {
        try (Transformer t = new Transformer(w); ForwardResult r = t.forward(ForwardRequest.tokens(new int[] {1, 403}))) {
            List<Float> out = new ArrayList<>();
            for (float f : r.lastLogits(0)) {
                out.add(f);
            }
            return out;
        }
    }

    private static Map<String, float[]> values(ForwardResult r) {
        Map<String, float[]> v = new TreeMap<>();
        v.put("logits", r.logits().toFloatArray());
        // the selected experts are int64
        r.taps().forEach((k, t) -> v.put(k, t.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray()));
        return v;
    }

    private static void assertSame(String what, Map<String, float[]> expected, Map<String, float[]> actual) {
        assertEquals(expected.keySet(), actual.keySet(), what);
        for (String k : expected.keySet()) {
            ReferenceConformanceTest.assertClose(what + " " + k, expected.get(k), actual.get(k), TOLERANCE, false);
        }
    }
}
