package org.neurotome.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Tap;
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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/** {@code neurotome predict}: the model's next-token distribution after a prompt. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Show the most likely next tokens after a prompt, with probabilities.")
public final class PredictCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Checkpoint directory (config.json + safetensors), or a .tar, .tar.gz or .tar.zst archive of one.")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptInput input;

    @Option(names = "--top", paramLabel = "K", defaultValue = "10", description = "How many tokens to list. Default: ${DEFAULT-VALUE}.")
    int top;

    @Option(names = "--json", description = "Print JSON: ids, tokens, top (id, token, prob, logprob); for a mixture of"
            + " experts also routing (layer, router_logits, weights, experts) at the last position.")
    boolean json;

    @Option(names = "--logits", description = "With --json: add the full last-position logit vector.")
    boolean logits;

    @Mixin
    ModelOptions run;

    @Override
    public Integer call() throws Exception {
        if (top < 1) {
            throw NeurotomeException.badInput("--top must be at least 1, got " + top);
        }
        ProgressBar bar = new ProgressBar(spec.commandLine().getErr());
        try (TorchThreads threads = run.resources.threads();
             LanguageModel lm = run.open(model)) {
            int[] ids = input.resolve(lm);
            lm.transformer().setProgress((done, total) -> bar.update("layers", done, total));
            float[] z;
            ArrayNode routing = Json.MAPPER.createArrayNode();
            List<String> taps = new ArrayList<>();
            for (int l = 0; json && l < lm.config().numLayers(); l++) {
                if (lm.config().sparseLayer(l)) {
                    taps.addAll(List.of(Tap.routerLogits(l), Tap.expertWeights(l), Tap.expertIndices(l)));
                }
            }
            try (ForwardResult r = lm.transformer().forward(ForwardRequest.tokens(ids).withTaps(taps))) {
                z = r.lastLogits(0);
                for (int l = 0; l < lm.config().numLayers(); l++) {
                    if (taps.contains(Tap.routerLogits(l))) {
                        ObjectNode layer = routing.addObject().put("layer", l);
                        ArrayNode logitsNode = layer.putArray("router_logits");
                        for (float v : r.tap(Tap.routerLogits(l)).get(0).toFloatArray()) {
                            logitsNode.add(v);
                        }
                        ArrayNode weights = layer.putArray("weights");
                        for (float v : r.tap(Tap.expertWeights(l)).get(0).toFloatArray()) {
                            weights.add(v);
                        }
                        ArrayNode experts = layer.putArray("experts");
                        for (long e : r.tap(Tap.expertIndices(l)).get(0).toLongArray()) {
                            experts.add(e);
                        }
                    }
                }
            }
            bar.finish();
            lm.requireFinite(z);
            double lse = logSumExp(z);
            int k = Math.min(top, z.length);
            int[] best = IntStream.range(0, z.length).boxed()
                    .sorted(Comparator.comparingDouble((Integer i) -> -z[i]).thenComparingInt(i -> i))
                    .limit(k).mapToInt(Integer::intValue).toArray();
            TextTokenizer tok = lm.tokenizer().orElse(null);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectNode root = Json.MAPPER.createObjectNode();
                ArrayNode idsNode = root.putArray("ids");
                for (int id : ids) {
                    idsNode.add(id);
                }
                if (tok != null) {
                    ArrayNode tokens = root.putArray("tokens");
                    for (int id : ids) {
                        tokens.add(tok.token(id));
                    }
                }
                ArrayNode topNode = root.putArray("top");
                for (int id : best) {
                    ObjectNode t = topNode.addObject();
                    t.put("id", id);
                    if (tok != null) {
                        t.put("token", tok.token(id));
                    }
                    t.put("prob", Math.exp(z[id] - lse));
                    t.put("logprob", z[id] - lse);
                }
                if (!routing.isEmpty()) {
                    root.set("routing", routing);
                }
                if (logits) {
                    ArrayNode all = root.putArray("logits");
                    for (float v : z) {
                        all.add(v);
                    }
                }
                out.println(Json.pretty().writeValueAsString(root));
            } else {
                out.printf("%s (%s, %d layers): next token after %d ids%n", model, lm.config().modelType(),
                        lm.config().numLayers(), ids.length);
                out.printf("%4s  %8s  %9s  %9s%s%n", "rank", "id", "prob", "logprob", tok == null ? "" : "  token");
                for (int i = 0; i < best.length; i++) {
                    int id = best[i];
                    out.printf("%4d  %8d  %9.6f  %9.4f%s%n", i + 1, id, Math.exp(z[id] - lse), z[id] - lse,
                            tok == null ? "" : "  " + Json.MAPPER.writeValueAsString(tok.token(id)));
                }
            }
            out.flush();
        }
        return 0;
    }

    /** log Σ exp(z), computed stably in float64. */
    static double logSumExp(float[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : z) {
            sum += Math.exp(v - max);
        }
        return max + Math.log(sum);
    }
}
