package org.neurotome.cli;

import org.neurotome.model.LanguageModel;
import picocli.CommandLine.Option;

/** The input of a command that runs a model: text through the model's tokenizer, or raw token ids. */
public final class PromptInput {
    @Option(names = "--prompt", paramLabel = "TEXT", required = true,
            description = "Text to encode with the model's tokenizer.json (BOS added as the tokenizer config says).")
    String prompt;

    @Option(names = "--ids", paramLabel = "ID", split = ",", required = true,
            description = "Token ids, comma-separated, used as they are (no BOS added).")
    int[] ids;

    /** The token ids to run. */
    int[] resolve(LanguageModel model) {
        return ids != null ? ids.clone() : model.encode(prompt);
    }
}
