package org.neurotome.model;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Decoding with a key/value cache gives the ids of recomputing the whole sequence at every
 * step: on every reference case (40 new ids, or up to the last learned position; kept and
 * streamed weights, grouped-query heads, rotary and learned positions) and on a window shorter
 * than the sequence (stories260K's 256 ids, both ways: {@link GreedyDecoderTest}); and each
 * cached step's logits equal the full forward's within 1e-4.
 */
class KvCacheTest {
    static List<String> cases() {
        return ReferenceData.caseNames();
    }

    private static int[] longestPrompt(String name) {
        JsonNode prompts = ReferenceData.expected(name).path("prompts");
        return ReferenceData.ints(prompts.get(prompts.size() - 1).path("ids"));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void cachedDecodingGivesTheIdsOfFullRecomputation(String name) {
        int[] prompt = longestPrompt(name);
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir(name));
             Weights kept = Weights.load(ckpt, Device.cpu());
             Weights streamed = Weights.load(ckpt, Device.cpu(), StreamingTest.tight(ckpt));
             Transformer a = new Transformer(kept);
             Transformer b = new Transformer(streamed)) {
            int n = kept.posEmbed() == null ? 40 : kept.config().maxPositions() - prompt.length;
            int[] full = GreedyDecoder.generate(a, prompt, n, Set.of(), false);
            assertEquals(n, full.length);
            assertArrayEquals(full, GreedyDecoder.generate(a, prompt, n, Set.of(), true), name + " cached");
            assertArrayEquals(full, GreedyDecoder.generate(b, prompt, n, Set.of(), true), name + " cached, streamed");
        }
    }

    @Test
    void aWindowShorterThanTheSequenceIsRespectedFromTheCache() {
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir("mistral"));
             NDManager m = NDManager.newBaseManager(Device.cpu())) {
            ObjectNode windowed = ckpt.config().deepCopy().put("sliding_window", 3);
            ModelConfig c = ModelConfig.from(windowed);
            try (Weights w = Weights.fromTensors(m, c, Architecture.forCheckpoint(ckpt), ckpt::floats);
                 Transformer t = new Transformer(w)) {
                int[] prompt = longestPrompt("mistral");
                int[] full = GreedyDecoder.generate(t, prompt, 30, Set.of(), false);
                assertArrayEquals(full, GreedyDecoder.generate(t, prompt, 30, Set.of(), true));
            }
        }
    }

    @Test
    void eachCachedStepHasTheLogitsOfTheFullForward() {
        int[] prompt = longestPrompt("gpt2_tied");
        int[] next = {7, 30, 2, 95, 41};
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir("gpt2_tied"));
             Weights w = Weights.load(ckpt, Device.cpu()); Transformer t = new Transformer(w);
             KvCache cache = new KvCache(t)) {
            int[] seq = prompt;
            try (ForwardResult r = t.forward(ForwardRequest.tokens(prompt).withCache(cache))) {
                assertEquals(prompt.length, cache.length());
            }
            for (int id : next) {
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = id;
                try (ForwardResult cached = t.forward(ForwardRequest.tokens(new int[] {id}).withCache(cache));
                     ForwardResult full = t.forward(ForwardRequest.tokens(seq))) {
                    ReferenceConformanceTest.assertClose("position " + (seq.length - 1), full.lastLogits(0),
                            cached.lastLogits(0), 1e-4, false);
                }
            }
            assertEquals(prompt.length + next.length, cache.length());
        }
    }
}
