package org.neurotome.model;

import ai.djl.Device;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * stories260K, the real trained llama2.c model, as a Hugging Face directory with its
 * SentencePiece-style tokenizer (test resources {@code real-models/stories260K-hf}, see its
 * README): "Once upon a time" encodes to llama2.c's ids (BOS, then the pieces "▁Once",
 * "▁upon", "▁a", "▁time" of its {@code tok512} vocabulary) and greedy decoding continues it
 * as llama2.c's {@code run.c} does at temperature 0.
 */
class StoriesContinuationTest {
    private static final Path MODEL = Path.of("src/test/resources/real-models/stories260K-hf");

    @Test
    void continuesOnceUponATimeAsLlama2cDoes() {
        try (LanguageModel lm = LanguageModel.open(MODEL, Device.cpu())) {
            TextTokenizer tok = lm.tokenizer().orElseThrow();
            int[] prompt = lm.encode("Once upon a time");
            assertArrayEquals(new int[] {1, 403, 407, 261, 378}, prompt);
            // llama2.c stops only on BOS, so the comparison does not stop at EOS either
            int[] generated = GreedyDecoder.generate(lm.transformer(), prompt, 40, Set.of());
            int[] all = Arrays.copyOf(prompt, prompt.length + generated.length);
            System.arraycopy(generated, 0, all, prompt.length, generated.length);
            String text = tok.decode(Arrays.copyOfRange(all, 1, all.length));
            String expected = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
            assertTrue(text.startsWith(expected), text);
            assertEquals("Once upon a time", tok.decode(Arrays.copyOfRange(prompt, 1, prompt.length)));
        }
    }
}
