package org.neurotome.model;

import ai.djl.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tokenizer loading, BOS handling from the post-processor and tokenizer_config.json, and decoding. */
class TextTokenizerTest {
    @Test
    void bosFollowsThePostProcessorUnlessTheConfigSaysOtherwise(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        TinyTokenizer.write(dir, true);
        try (LanguageModel lm = LanguageModel.open(dir, Device.cpu())) {
            TextTokenizer tok = lm.tokenizer().orElseThrow();
            assertTrue(tok.addsBos());
            assertArrayEquals(new int[] {1, 3, 4, 5, 6}, tok.encode("once upon a time"));
            assertArrayEquals(new int[] {1, 3, 0}, tok.encode("once dragon"), "unknown words map to <unk>");
            assertEquals("there was", tok.decode(new int[] {7, 8}));
            assertEquals("girl", tok.token(10));
        }
        Files.writeString(dir.resolve(TextTokenizer.CONFIG_FILE), "{\"add_bos_token\": false}");
        try (LanguageModel lm = LanguageModel.open(dir, Device.cpu())) {
            assertFalse(lm.tokenizer().orElseThrow().addsBos());
            assertArrayEquals(new int[] {3, 4}, lm.encode("once upon"));
        }
    }

    @Test
    void modelsWithoutTokenizerTakeIdsOnly(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("gpt2_tied", tmp.resolve("m"));
        try (LanguageModel lm = LanguageModel.open(dir, Device.cpu())) {
            assertTrue(lm.tokenizer().isEmpty());
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> lm.encode("hello"));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode());
            assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
        }
    }

    @Test
    void aWordLevelVocabularyWithoutUnknownTokenIsRefused(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        TinyTokenizer.write(dir, false);
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> LanguageModel.open(dir, Device.cpu()).close());
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
        assertTrue(e.getMessage().contains("unk_token"), e.getMessage());
    }

    @Test
    void anUnknownTokenOutsideTheVocabularyIsRefusedEvenWhenTheConfigSkipsTheProbe(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        TinyTokenizer.write(dir, true);
        Path file = dir.resolve(TextTokenizer.FILE);
        com.fasterxml.jackson.databind.node.ObjectNode json =
                (com.fasterxml.jackson.databind.node.ObjectNode) org.neurotome.Json.MAPPER.readTree(file.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) json.get("model")).put("unk_token", "[UNK]");
        Files.writeString(file, json.toString());
        Files.writeString(dir.resolve(TextTokenizer.CONFIG_FILE), "{\"add_bos_token\": false}");
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> LanguageModel.open(dir, Device.cpu()).close());
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
        assertTrue(e.getMessage().endsWith("tokenizer.json: the WordLevel model's unk_token '[UNK]' is not in its"
                + " vocabulary, so words outside it cannot be encoded"), e.getMessage());
    }

    /**
     * The tiny tokenizer with its words split further on {@code regex} (a Split pre-tokenizer
     * after the whitespace one) refuses {@code text} (exit 3), and its next call, in a fresh
     * process, encodes; returns the refusal's message.
     */
    private static String refusedWithSplit(Path tmp, String regex, String text) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        TinyTokenizer.write(dir, true);
        Path file = dir.resolve(TextTokenizer.FILE);
        com.fasterxml.jackson.databind.node.ObjectNode json =
                (com.fasterxml.jackson.databind.node.ObjectNode) org.neurotome.Json.MAPPER.readTree(file.toFile());
        com.fasterxml.jackson.databind.node.ArrayNode steps = json.putObject("pre_tokenizer").put("type", "Sequence")
                .putArray("pretokenizers");
        steps.addObject().put("type", "Whitespace");
        steps.addObject().put("type", "Split").put("behavior", "Isolated").put("invert", false)
                .putObject("pattern").put("Regex", regex);
        Files.writeString(file, json.toString());
        try (LanguageModel lm = LanguageModel.open(dir, Device.cpu())) {
            TextTokenizer tok = lm.tokenizer().orElseThrow();
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> tok.encode(text));
            assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
            assertTrue(e.getMessage().startsWith(file + ": the tokenizer library "), e.getMessage());
            assertArrayEquals(new int[] {1, 3, 4}, tok.encode("once upon"), "the next call gets a fresh process");
            return e.getMessage();
        }
    }

    @Test
    void aPatternOnWhichTheTokenizerLibraryAbortsIsRefusedNamingTheFile(@TempDir Path tmp) throws Exception {
        String m = refusedWithSplit(tmp, "((a+)+)+$", "a".repeat(40) + "b");
        assertTrue(m.contains(": the tokenizer library aborted encoding a text of 41 characters"), m);
        assertTrue(m.contains("retry-limit-in-match over"), m);
    }

    @Test
    void aPatternThatBacktracksForMinutesIsRefusedAfterTheTimeout(@TempDir Path tmp) throws Exception {
        System.setProperty(TokenizerProcess.TIMEOUT_PROPERTY, "3");
        try {
            String m = refusedWithSplit(tmp, "a+a+$", "a".repeat(4000) + "b");
            assertTrue(m.contains(": the tokenizer library gave no answer within 3 s encoding a text of 4001 characters"),
                    m);
        } finally {
            System.clearProperty(TokenizerProcess.TIMEOUT_PROPERTY);
        }
    }

    @Test
    void anIdOutsideTheModelsVocabularyIsTheTokenizersFault(@TempDir Path tmp) throws Exception {
        Path dir = TinyTokenizer.copyReference("stories260K", tmp.resolve("m"));
        TinyTokenizer.write(dir, true);
        Path file = dir.resolve(TextTokenizer.FILE);
        Files.writeString(file, Files.readString(file).replace("\"girl\" : 10", "\"girl\" : 600"));
        try (LanguageModel lm = LanguageModel.open(dir, Device.cpu())) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> lm.encode("a little girl"));
            assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode());
            assertEquals(file + ": encodes 'a little girl' with id 600, outside the model's vocabulary of size 512 "
                    + "(config.json vocab_size; ids 0..511): the tokenizer is not this model's", e.getMessage());
        }
    }
}
