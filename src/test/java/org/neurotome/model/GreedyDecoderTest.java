package org.neurotome.model;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.checkpoint.Checkpoint;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * stories260K greedy decoding from BOS reproduces llama2.c's run.c at temperature 0 (reference
 * greedy.json), with the key/value cache and without it.
 */
class GreedyDecoderTest {
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void reproducesLlama2cGreedyContinuation(boolean kvCache) {
        JsonNode greedy = ReferenceData.read(ReferenceData.caseDir("stories260K").resolve("greedy.json"));
        int[] prompt = ReferenceData.ints(greedy.path("prompt_ids"));
        int[] expected = ReferenceData.ints(greedy.path("generated_ids"));
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir("stories260K"));
             Weights weights = Weights.load(ckpt, Device.cpu());
             Transformer model = new Transformer(weights)) {
            int[] generated = GreedyDecoder.generate(model, prompt, expected.length, Set.of(), kvCache);
            assertArrayEquals(expected, generated);
        }
    }
}
