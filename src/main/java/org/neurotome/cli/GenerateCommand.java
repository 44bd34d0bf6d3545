package org.neurotome.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.GreedyDecoder;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.TextTokenizer;
import org.neurotome.model.TorchThreads;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;

/** {@code neurotome generate}: greedy continuation of a prompt. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continue a prompt greedily (argmax at every step).")
public final class GenerateCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Checkpoint directory (config.json + safetensors), or a .tar, .tar.gz or .tar.zst archive of one.")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptInput input;

    @Option(names = "--max-new", paramLabel = "N", required = true, description = "Tokens to generate at most.")
    int maxNew;

    @Option(names = "--ignore-eos", description = "Keep going past the end-of-sequence id of config.json.")
    boolean ignoreEos;

    @Option(names = "--json", description = "Print JSON: prompt_ids, generated_ids, text (the continuation, with a tokenizer).")
    boolean json;

    @Option(names = "--no-kv-cache",
            description = "Recompute the whole sequence at every step instead of caching keys and values (same ids, slower).")
    boolean noKvCache;

    @Mixin
    ModelOptions run;

    @Override
    public Integer call() throws Exception {
        if (maxNew < 1) {
            throw NeurotomeException.badInput("--max-new must be at least 1, got " + maxNew);
        }
        ProgressBar bar = new ProgressBar(spec.commandLine().getErr());
        try (TorchThreads threads = run.resources.threads();
             LanguageModel lm = run.open(model)) {
            lm.transformer().setProgress((done, total) -> bar.update("layers", done, total));
            int[] prompt = input.resolve(lm);
            int context = lm.config().maxPositions();
            if (lm.weights().posEmbed() != null) {
                if ((long) prompt.length + maxNew > context) {
                    throw NeurotomeException.badInput("--max-new " + maxNew + ": the prompt (" + prompt.length
                            + " ids) plus the new tokens exceed the model's " + context + " learned positions; allowed: at most "
                            + (context - prompt.length));
                }
            } else {
                if (maxNew > context) {
                    throw NeurotomeException.badInput("--max-new " + maxNew + " is more than the model's whole context"
                            + " (max_position_embeddings " + context + "); allowed: at most " + context);
                }
                lm.checkLength(prompt.length + maxNew);
            }
            // a model computing non-finite logits is refused before it decodes nonsense
            try (ForwardResult r = lm.transformer().forward(ForwardRequest.tokens(prompt))) {
                lm.requireFinite(r.lastLogits(0));
            }
            Set<Integer> stop = ignoreEos ? Set.of() : new HashSet<>(lm.config().eosTokenIds());
            int[] generated = GreedyDecoder.generate(lm.transformer(), prompt, maxNew, stop, !noKvCache);
            bar.finish();
            TextTokenizer tok = lm.tokenizer().orElse(null);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectNode root = Json.MAPPER.createObjectNode();
                ArrayNode p = root.putArray("prompt_ids");
                Arrays.stream(prompt).forEach(p::add);
                ArrayNode g = root.putArray("generated_ids");
                Arrays.stream(generated).forEach(g::add);
                if (tok != null) {
                    root.put("text", tok.continuation(prompt, generated));
                }
                out.println(Json.pretty().writeValueAsString(root));
            } else if (tok != null) {
                out.println(tok.text(concat(prompt, generated)));
            } else {
                out.println(Arrays.stream(generated).mapToObj(Integer::toString).collect(Collectors.joining(",")));
            }
            out.flush();
        }
        return 0;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
