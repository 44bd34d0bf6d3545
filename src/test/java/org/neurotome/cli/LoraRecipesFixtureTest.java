package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.neurotome.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two LoRA recipes at full length on each fixture, the measurements of
 * {@code checkpoints/README.md} ("LoRA: P1 §5 and §6.1"), printed as Markdown tables:
 * <ul>
 *   <li>§6.1 ({@code arith-prune-recover}): arithmetic accuracy per operation and language
 *       perplexity of the original, the pruned and the recovered model, the share of FFN
 *       neurons kept, and the same prune and recovery with as many neurons per layer chosen at
 *       random (the paper's LoRA9-r). Checked: the prune costs arithmetic at least 3 points, the
 *       recovery wins back at least half of that, and the CNA selection costs less than the
 *       random one;</li>
 *   <li>§5 ({@code lora-layer-scan}): each layer's LoRA's accuracy gain on the held-out 2D
 *       cases, the best layer, and the top neurons of CNA between the model and the best LoRA.
 *       Checked: one LoRA per layer, the best is the one with the largest gain.</li>
 * </ul>
 */
@Tag("slow")
class LoraRecipesFixtureTest {
    private static final String[] OPS = {"+", "-", "*", "/"};

    @TempDir
    Path tmp;

    private static String[] familySets(String fixture) {
        List<String> sets = new ArrayList<>();
        sets.add("model.path=../checkpoints/" + fixture);
        if (fixture.equals("fixture-gpt2")) {
            // the attention's projections only (GPT-2's MLP has a c_proj too)
            sets.add("locate.0.train.target_modules=[attn.c_attn, attn.c_proj]");
            sets.add("recover.target_modules=[attn.c_attn, attn.c_proj]");
        }
        return sets.toArray(String[]::new);
    }

    private Path apply(String recipe, Path out, String... sets) {
        List<String> args = new ArrayList<>(List.of("apply", recipe, "--out", out.toString(), "--threads", "1"));
        for (String s : sets) {
            args.add("--set");
            args.add(s);
        }
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertTrue(run.code() == 0 || run.code() == 1, recipe + ": " + run.err());
        return out;
    }

    private static JsonNode read(Path file) throws Exception {
        return Json.MAPPER.readTree(file.toFile());
    }

    private static double m(JsonNode report, String side, String metric) {
        return report.get(side).get(metric).asDouble();
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixture-llama", "fixture-gpt2"})
    void pruneThenRecover(String fixture) throws Exception {
        Path out = apply("recipes/arith-prune-recover.yaml", tmp.resolve("prune"), familySets(fixture));
        JsonNode after = read(out.resolve("eval/report.json"));
        JsonNode before = read(out.resolve("eval/before-recovery/report.json"));
        JsonNode findings = read(out.resolve("findings.json"));
        JsonNode manifest = read(out.resolve("manifest.json"));
        int layers = findings.at("/steps/lora_cna/model/layers").asInt();
        int ffn = findings.at("/steps/lora_cna/model/neurons").asInt();
        Map<Integer, List<Integer>> kept = new TreeMap<>();
        findings.at("/selections/arith_neurons").forEach(n -> {
            String[] p = n.asText().split("\\.");
            kept.computeIfAbsent(Integer.parseInt(p[0]), k -> new ArrayList<>()).add(Integer.parseInt(p[1]));
        });
        int keptCount = kept.values().stream().mapToInt(List::size).sum();
        int deep = (layers - 2) * ffn;

        // the control: as many neurons per layer, chosen at random, the same recovery
        int layer = manifest.at("/recover/layers/0").asInt();
        Random random = new Random(7);
        StringBuilder literal = new StringBuilder();
        kept.forEach((l, ks) -> {
            List<Integer> all = new ArrayList<>();
            for (int k = 0; k < ffn; k++) {
                all.add(k);
            }
            Collections.shuffle(all, random);
            for (int k : all.subList(0, ks.size())) {
                literal.append(literal.isEmpty() ? "" : ", ").append(l).append('.').append(k);
            }
        });
        Path control = tmp.resolve("random.yaml");
        String recipe = Files.readString(Path.of("recipes/arith-prune-recover.yaml"));
        String head = recipe.substring(0, recipe.indexOf("locate:"));
        String tail = recipe.substring(recipe.indexOf("# Step 4"));
        Files.writeString(control, head.replace("../", Path.of("").toAbsolutePath() + "/") + """
                edit:
                  - op: keep-neurons
                    neurons: [%s]
                    layers: 2-
                """.formatted(literal) + tail.replace("${lora_cna}", Integer.toString(layer))
                .replace("../", Path.of("").toAbsolutePath() + "/"));
        List<String> controlSets = new ArrayList<>();
        for (String set : familySets(fixture)) {
            if (!set.startsWith("locate.")) {
                controlSets.add(set.replace("../", Path.of("").toAbsolutePath() + "/"));
            }
        }
        Path rnd = apply(control.toString(), tmp.resolve("random"), controlSets.toArray(String[]::new));
        JsonNode rAfter = read(rnd.resolve("eval/report.json"));
        JsonNode rBefore = read(rnd.resolve("eval/before-recovery/report.json"));

        StringBuilder t = new StringBuilder();
        t.append(String.format(Locale.ROOT, "%n%s, %d of %d FFN neurons kept in layers 2-%d (%.1f %%; %.1f %% of all), "
                        + "LoRA on layer %d%n%n", fixture, keptCount, deep, layers - 1, 100.0 * keptCount / deep,
                100.0 * (layers * ffn - deep + keptCount) / (layers * ffn), layer));
        t.append("| model | + | − | * | / | all | perplexity |\n|---|---|---|---|---|---|---|\n");
        row(t, "original", after, "baseline_metrics");
        row(t, "pruned (CNA)", before, "metrics");
        row(t, "recovered (CNA)", after, "metrics");
        row(t, "pruned (random, same count)", rBefore, "metrics");
        row(t, "recovered (random)", rAfter, "metrics");
        System.out.print(t);
        Files.writeString(Path.of("target", "lora-prune-recover-" + fixture + ".md"), t.toString());

        double original = m(after, "baseline_metrics", "arithmetic.accuracy");
        double pruned = m(before, "metrics", "arithmetic.accuracy");
        double recovered = m(after, "metrics", "arithmetic.accuracy");
        assertTrue(pruned <= original - 0.03, fixture + ": the prune costs arithmetic: " + original + " -> " + pruned);
        assertTrue(recovered - pruned >= 0.5 * (original - pruned), fixture + ": the LoRA wins back at least half: "
                + pruned + " -> " + recovered);
        assertTrue(m(rBefore, "metrics", "arithmetic.accuracy") < pruned,
                fixture + ": neurons chosen at random cost more than the CNA neurons");
    }

    private static void row(StringBuilder t, String name, JsonNode report, String side) {
        t.append("| ").append(name);
        for (String op : OPS) {
            t.append(String.format(Locale.ROOT, " | %.1f", 100 * m(report, side, "arithmetic.accuracy.op=" + op)));
        }
        t.append(String.format(Locale.ROOT, " | %.1f | %.3f |%n", 100 * m(report, side, "arithmetic.accuracy"),
                m(report, side, "language.perplexity")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixture-llama", "fixture-gpt2"})
    void layerScan(String fixture) throws Exception {
        Path out = apply("recipes/lora-layer-scan.yaml", tmp.resolve("scan"), familySets(fixture));
        JsonNode step = read(out.resolve("findings.json")).at("/steps/lora_scan");
        JsonNode scan = step.at("/parameters/lora_scan");
        JsonNode after = read(out.resolve("eval/report.json"));
        StringBuilder t = new StringBuilder();
        t.append(String.format(Locale.ROOT, "%n%s: the model's own accuracy on the held-out 2D cases %.1f %% (tokens "
                + "%.1f %%)%n%n", fixture, 100 * scan.get("base_accuracy").asDouble(),
                100 * scan.get("base_token_accuracy").asDouble()));
        t.append("| LoRA layer | accuracy | gain | token accuracy | gain |\n|---|---|---|---|---|\n");
        double bestGain = Double.NEGATIVE_INFINITY;
        for (JsonNode l : scan.get("layers")) {
            t.append(String.format(Locale.ROOT, "| %d | %.1f | %+.1f | %.1f | %+.1f |%n", l.get("layer").asInt(),
                    100 * l.get("accuracy").asDouble(), 100 * l.get("gain").asDouble(),
                    100 * l.get("token_accuracy").asDouble(), 100 * l.get("token_gain").asDouble()));
            bestGain = Math.max(bestGain, l.get("gain").asDouble());
        }
        int best = scan.get("best_layer").asInt();
        t.append(String.format(Locale.ROOT, "%nbest layer %d; merged: arithmetic %.1f -> %.1f %%, perplexity %.3f -> %.3f%n",
                best, 100 * m(after, "baseline_metrics", "arithmetic.accuracy"), 100 * m(after, "metrics",
                        "arithmetic.accuracy"), m(after, "baseline_metrics", "language.perplexity"),
                m(after, "metrics", "language.perplexity")));
        t.append("\n| neuron | diff | coef base | coef LoRA | top tokens |\n|---|---|---|---|---|\n");
        for (int i = 0; i < 5; i++) {
            JsonNode n = step.get("neurons").get(i);
            List<String> tokens = new ArrayList<>();
            n.get("top_tokens").forEach(x -> {
                if (tokens.size() < 5) {
                    tokens.add(x.get("token").asText());
                }
            });
            t.append(String.format(Locale.ROOT, "| %d_%d | %.4f | %.3f | %.3f | %s |%n", n.get("layer").asInt(),
                    n.get("neuron").asInt(), n.get("diff").asDouble(), n.get("coef_a").asDouble(),
                    n.get("coef_b").asDouble(), String.join(", ", tokens)));
        }
        System.out.print(t);
        Files.writeString(Path.of("target", "lora-layer-scan-" + fixture + ".md"), t.toString());
        int layers = read(out.resolve("findings.json")).at("/steps/lora_scan/model/layers").asInt();
        assertEquals(layers, scan.get("layers").size(), "one LoRA per layer");
        assertEquals(bestGain, scan.get("layers").get(best).get("gain").asDouble(), "the best is the largest gain");
    }
}
