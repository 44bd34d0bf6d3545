package org.neurotome.model;

import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

/**
 * A checkpoint's {@code tokenizer.json} through DJL's Hugging Face tokenizers binding, which
 * runs in a separate process ({@link TokenizerProcess}) so that no file can abort neurotome.
 * Text is encoded without the post-processor's special tokens; a BOS id is prepended when
 * {@code tokenizer_config.json} says {@code add_bos_token: true}, or, without that key, when
 * the tokenizer's own post-processor would add it (as transformers' fast tokenizers do).
 * Nothing is ever padded: batches carry explicit lengths.
 */
public final class TextTokenizer implements AutoCloseable {
    public static final String FILE = "tokenizer.json";
    public static final String CONFIG_FILE = "tokenizer_config.json";

    private final TokenizerProcess.Handle tokenizer;
    private final Integer bosId;
    private final Boolean addBos;
    private final int vocabSize;

    private TextTokenizer(TokenizerProcess.Handle tokenizer, Integer bosId, Boolean addBos, int vocabSize) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.bosId = bosId;
        this.addBos = addBos;
    }

    /** The tokenizer of checkpoint directory {@code dir}, or empty when it has no {@code tokenizer.json}. */
    public static Optional<TextTokenizer> open(Path dir, ModelConfig config) {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        checkUnknownToken(file);
        Boolean addBos = null;
        Integer bosId = config.bosTokenId();
        Path cfg = dir.resolve(CONFIG_FILE);
        if (Files.isRegularFile(cfg)) {
            JsonNode tc = readJson(cfg);
            JsonNode add = tc.get("add_bos_token");
            if (add != null && add.isBoolean()) {
                addBos = add.asBoolean();
            }
        }
        TokenizerProcess.Handle tok = TokenizerProcess.load(file);
        if (addBos == null) {
            long[] plain = TokenizerProcess.encode(tok, "a", false);
            long[] special = TokenizerProcess.encode(tok, "a", true);
            addBos = bosId != null && special.length > plain.length && special[0] == bosId;
        }
        if (addBos && bosId == null) {
            TokenizerProcess.close(tok);
            throw NeurotomeException.badCheckpoint(cfg + ": add_bos_token is true but config.json gives no bos_token_id");
        }
        return Optional.of(new TextTokenizer(tok, bosId, addBos, config.vocabSize()));
    }

    /**
     * A word-level or word-piece vocabulary without an unknown token makes the native
     * tokenizer abort the process on an unseen word; refuse such a file up front.
     */
    private static void checkUnknownToken(Path file) {
        JsonNode model = readJson(file).path("model");
        String type = model.path("type").asText("");
        if (!type.equals("WordLevel") && !type.equals("WordPiece")) {
            return;
        }
        String unk = model.path("unk_token").isTextual() ? model.path("unk_token").asText() : "";
        if (unk.isEmpty()) {
            throw NeurotomeException.badCheckpoint(file + ": a " + type + " model needs an \"unk_token\" to encode"
                    + " words outside its vocabulary");
        }
        if (!model.path("vocab").has(unk)) {
            throw NeurotomeException.badCheckpoint(file + ": the " + type + " model's unk_token '" + unk
                    + "' is not in its vocabulary, so words outside it cannot be encoded");
        }
    }

    private static JsonNode readJson(Path file) {
        try {
            return Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(file + ": cannot read: " + NeurotomeException.reason(e));
        }
    }

    /**
     * The ids of {@code text}, with BOS first when the model expects one. An id the model's
     * vocabulary does not have is the tokenizer's fault (it belongs to another model): a
     * BAD_CHECKPOINT error naming the file.
     */
    public int[] encode(String text) {
        long[] ids = TokenizerProcess.encode(tokenizer, text, false);
        int offset = addBos ? 1 : 0;
        int[] out = new int[ids.length + offset];
        if (addBos) {
            out[0] = bosId;
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw NeurotomeException.badCheckpoint(tokenizer.file() + ": encodes '" + text + "' with id " + ids[i]
                        + ", outside the model's vocabulary of size " + vocabSize + " (config.json vocab_size; ids 0.."
                        + (vocabSize - 1) + "): the tokenizer is not this model's");
            }
            out[i + offset] = (int) ids[i];
        }
        return out;
    }

    /** The text of {@code ids}, special tokens included. */
    public String decode(int[] ids) {
        return TokenizerProcess.decode(tokenizer, Arrays.stream(ids).asLongStream().toArray(), false);
    }

    /** The text of {@code ids} as a reader sees it: special tokens ({@code </s>}, ...) left out. */
    public String text(int[] ids) {
        return TokenizerProcess.decode(tokenizer, Arrays.stream(ids).asLongStream().toArray(), true);
    }

    /**
     * The text {@code generated} adds after {@code prompt}, with the space between them: decoded
     * together, since a SentencePiece decode drops the leading space of its first word.
     */
    public String continuation(int[] prompt, int[] generated) {
        int[] all = Arrays.copyOf(prompt, prompt.length + generated.length);
        System.arraycopy(generated, 0, all, prompt.length, generated.length);
        String head = text(prompt);
        String whole = text(all);
        return whole.startsWith(head) ? whole.substring(head.length()) : text(generated);
    }

    /** The text of one token, as it reads inside a decoded string. */
    public String token(int id) {
        return decode(new int[] {id});
    }

    /** Whether encoding prepends the BOS id. */
    public boolean addsBos() {
        return addBos;
    }

    @Override
    public void close() {
        TokenizerProcess.close(tokenizer);
    }
}
