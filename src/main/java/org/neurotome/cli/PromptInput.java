package org.neurotome.cli;

import org.neurotome.NeurotomeException;
import org.neurotome.model.LanguageModel;
import picocli.CommandLine.Option;

/** The input of a command that runs a model: text through the model's tokenizer, or raw token ids. */
public final class PromptInput {
    @Option(names = "--prompt", paramLabel = "TEXT", required = true,
            description = "Text to encode with the model's tokenizer.json (BOS added as the tokenizer config says).")
    String prompt;

    @Option(names = "--ids", paramLabel = "ID,ID,...", required = true,
            description = "Token ids, comma-separated, used as they are (no BOS added); give it once.")
    String ids;

    /** The token ids to run. */
    int[] resolve(LanguageModel model) {
        if (ids == null) {
            return model.encode(prompt);
        }
        int[] parsed = parseIds("--ids", ids);
        model.checkLength(parsed.length);
        return parsed;
    }

    /** Comma-separated token ids as given to {@code option}. */
    static int[] parseIds(String option, String text) {
        String[] parts = text.split(",", -1);
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw NeurotomeException.badInput(option + " '" + text + "': '" + parts[i]
                        + "' is not a token id; allowed: comma-separated whole numbers, e.g. 15,3,42");
            }
        }
        return out;
    }
}
