package org.neurotome.lora;

import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.model.ReferenceData;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The PEFT-written reference adapters of {@code src/test/resources/lora} (made by
 * {@code scripts/peft_reference.py} with peft 0.21 and transformers 5.17): one per tiny
 * reference checkpoint, with the LoraConfig it was made with and PEFT's own last-position
 * logits of the reference prompts, adapter active and after {@code merge_and_unload}.
 */
final class LoraReference {
    private LoraReference() {
    }

    static Path root() {
        return ReferenceData.root().resolveSibling("lora");
    }

    static List<String> cases() {
        List<String> names = new ArrayList<>();
        ReferenceData.caseNames().forEach(n -> {
            if (root().resolve(n).toFile().isDirectory()) {
                names.add(n);
            }
        });
        return names;
    }

    static Path adapter(String name) {
        return root().resolve(name).resolve("adapter");
    }

    static JsonNode expected(String name) {
        return ReferenceData.read(root().resolve(name).resolve("expected.json"));
    }
}
