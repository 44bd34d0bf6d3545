package org.neurotome.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a small word-level {@code tokenizer.json} (Hugging Face tokenizers format: whitespace
 * pre-tokenizer, a post-processor that prepends {@code <s>}) for tests that need text.
 */
public final class TinyTokenizer {
    public static final List<String> WORDS = List.of("<unk>", "<s>", "</s>", "once", "upon", "a", "time", "there",
            "was", "little", "girl");

    private TinyTokenizer() {
    }

    /** Writes {@code tokenizer.json} into {@code dir}; {@code unk} false leaves out the unknown token. */
    public static void write(Path dir, boolean unk) throws IOException {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < 3; i++) {
            added.addObject().put("id", i).put("content", WORDS.get(i)).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "Whitespace");
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject("<s>");
        bos.put("id", "<s>");
        bos.putArray("ids").add(1);
        bos.putArray("tokens").add("<s>");
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < WORDS.size(); i++) {
            vocab.put(WORDS.get(i), i);
        }
        if (unk) {
            model.put("unk_token", "<unk>");
        } else {
            model.putNull("unk_token");
        }
        Files.writeString(dir.resolve(TextTokenizer.FILE), Json.pretty().writeValueAsString(root));
    }

    /** A copy of reference case {@code name} (config and weights) in {@code dir}. */
    public static Path copyReference(String name, Path dir) throws IOException {
        Files.createDirectories(dir);
        try (var files = Files.list(ReferenceData.caseDir(name))) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (n.endsWith(".safetensors") || n.endsWith(".json") && !n.equals("expected.json") && !n.equals("greedy.json")) {
                    Files.copy(f, dir.resolve(n));
                }
            }
        }
        return dir;
    }
}
