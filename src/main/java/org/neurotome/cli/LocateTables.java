package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.cna.AttributionResult;
import org.neurotome.cna.ComponentScores;
import org.neurotome.cna.ExpertAttributionResult;
import org.neurotome.cna.ExpertScanResult;
import org.neurotome.cna.ExpertUsageResult;
import org.neurotome.cna.Findings;
import org.neurotome.cna.HeadScanResult;
import org.neurotome.cna.StepScores;
import org.neurotome.model.TextTokenizer;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.neurotome.cli.LocateCommand.fmt;
import static org.neurotome.cli.LocateCommand.quoted;

/** The ranked tables {@code neurotome locate} prints on stdout, one per method. */
final class LocateTables {
    private LocateTables() {
    }

    static void headScan(PrintWriter out, HeadScanResult r, int top, TextTokenizer tok) {
        List<HeadScanResult.HeadEffect> ranked = r.ranked();
        List<HeadScanResult.HeadEffect> shown = ranked.subList(0, top == 0 ? ranked.size() : Math.min(top, ranked.size()));
        int cases = r.prompts().cases().size();
        if (cases == 1) {
            int[] t = r.targets();
            out.printf("head scan of %s: target %s, p = %s, log p = %s%n", r.prompts().cases().getFirst().describe(),
                    targets(t, tok), fmt(r.baseProb()), fmt(r.baseLogprob()));
            out.printf("%4s  %-7s  %9s  %9s  %9s  %12s%n", "rank", "head", "prob", "logprob", "drop", "logprob drop");
            for (int i = 0; i < shown.size(); i++) {
                HeadScanResult.HeadEffect e = shown.get(i);
                out.printf("%4d  %-7s  %9s  %9s  %9s  %12s%n", i + 1, e.head(), fmt(e.prob()), fmt(e.logprob()),
                        fmt(e.drop()), fmt(e.logprobDrop()));
            }
            return;
        }
        out.printf("head scan over %d cases (%d positions): accuracy %s%%, mean p = %s%n", cases,
                r.prompts().steps().size(), pct(r.baseAccuracy()), fmt(r.baseProb()));
        r.baseByLabel().forEach((key, values) -> {
            List<String> parts = new ArrayList<>();
            values.forEach((v, a) -> parts.add(v + " " + pct(a.accuracy()) + "%"));
            out.printf("  by %s: %s%n", key, String.join(", ", parts));
        });
        out.printf("%4s  %-7s  %8s  %10s  %9s  %9s  %s%n", "rank", "head", "accuracy", "drop (pts)", "relative",
                "prob drop", "largest label drop");
        for (int i = 0; i < shown.size(); i++) {
            HeadScanResult.HeadEffect e = shown.get(i);
            out.printf("%4d  %-7s  %7s%%  %10s  %8s%%  %9s  %s%n", i + 1, e.head(), pct(e.accuracy()),
                    pct(e.accuracyDrop()), pct(e.relativeDrop()), fmt(e.drop()), largestLabelDrop(e));
        }
    }

    private static String largestLabelDrop(HeadScanResult.HeadEffect e) {
        String best = "";
        double drop = Double.NEGATIVE_INFINITY;
        for (Map.Entry<String, ? extends Map<String, HeadScanResult.LabelAccuracy>> k : e.byLabel().entrySet()) {
            for (Map.Entry<String, HeadScanResult.LabelAccuracy> v : k.getValue().entrySet()) {
                if (v.getValue().drop() > drop) {
                    drop = v.getValue().drop();
                    best = k.getKey() + "=" + v.getKey() + " " + pct(drop) + " pts";
                }
            }
        }
        return best;
    }

    static void attribution(PrintWriter out, AttributionResult r, int top, TextTokenizer tok) {
        List<StepScores> steps = r.steps();
        if (r.prompts().cases().size() == 1) {
            out.printf("attribution of %s: target %s, p = %s%n", r.prompts().cases().getFirst().describe(),
                    targets(steps.stream().mapToInt(StepScores::target).toArray(), tok),
                    fmt(steps.stream().mapToDouble(StepScores::prob).average().orElseThrow()));
        } else {
            out.printf("attribution over %d cases (%d positions), mean p(target) = %s%n", r.prompts().cases().size(),
                    steps.size(), fmt(steps.stream().mapToDouble(StepScores::prob).average().orElseThrow()));
        }
        scored(out, r.scored().bounded(), r.scored().neurons(), r.scored().neuronsTotal());
        out.printf("%nFFN neurons by log-probability increase%n%4s  %-10s  %9s  %9s%n", "rank", "neuron", "score", "coef");
        List<AttributionResult.NeuronScore> neurons = r.neurons(top);
        for (int i = 0; i < neurons.size(); i++) {
            AttributionResult.NeuronScore n = neurons.get(i);
            out.printf("%4d  %-10s  %9s  %9s%n", i + 1, n.neuron(), fmt(n.score()), fmt(n.coef()));
        }
        out.printf("%nheads by log-probability increase%n%4s  %-7s  %9s%n", "rank", "head", "score");
        List<AttributionResult.HeadScore> heads = r.heads(top);
        for (int i = 0; i < heads.size(); i++) {
            out.printf("%4d  %-7s  %9s%n", i + 1, heads.get(i).head(), fmt(heads.get(i).score()));
        }
        ComponentScores m = r.mean();
        out.printf("%nlayers%n%5s  %9s  %9s%n", "layer", "attention", "ffn");
        for (int l = 0; l < m.attention().length; l++) {
            out.printf("%5d  %9s  %9s%n", l, fmt(m.attention()[l]), fmt(m.ffn()[l]));
        }
    }

    static void expertScan(PrintWriter out, ExpertScanResult r, int top, TextTokenizer tok) {
        List<ExpertScanResult.ExpertEffect> shown = first(r.ranked(), top);
        if (r.prompts().cases().size() == 1) {
            out.printf("expert scan of %s: target %s, p = %s, log p = %s%n", r.prompts().cases().getFirst().describe(),
                    targets(r.targets(), tok), fmt(r.baseProb()), fmt(r.baseLogprob()));
        } else {
            out.printf("expert scan over %d cases (%d positions): accuracy %s%%, mean p = %s%n",
                    r.prompts().cases().size(), r.prompts().steps().size(), pct(r.baseAccuracy()), fmt(r.baseProb()));
        }
        out.printf("%4s  %-9s  %9s  %9s  %9s  %12s  %8s%n", "rank", "expert", "prob", "logprob", "drop", "logprob drop",
                "accuracy");
        for (int i = 0; i < shown.size(); i++) {
            ExpertScanResult.ExpertEffect e = shown.get(i);
            out.printf("%4d  %-9s  %9s  %9s  %9s  %12s  %7s%%%n", i + 1, e.layer() + "." + e.expert(), fmt(e.prob()),
                    fmt(e.logprob()), fmt(e.drop()), fmt(e.logprobDrop()), pct(e.accuracy()));
        }
    }

    static void expertAttribution(PrintWriter out, ExpertAttributionResult r, int top, TextTokenizer tok) {
        if (r.prompts().cases().size() == 1) {
            out.printf("expert attribution of %s: target %s, p = %s%n", r.prompts().cases().getFirst().describe(),
                    targets(r.targets(), tok), fmt(r.baseProb()));
        } else {
            out.printf("expert attribution over %d cases (%d positions), mean p(target) = %s%n",
                    r.prompts().cases().size(), r.steps().size(), fmt(r.baseProb()));
        }
        out.printf("%4s  %-9s  %9s%n", "rank", "expert", "score");
        List<ExpertAttributionResult.ExpertScore> shown = first(r.ranked(), top);
        for (int i = 0; i < shown.size(); i++) {
            ExpertAttributionResult.ExpertScore e = shown.get(i);
            out.printf("%4d  %-9s  %9s%n", i + 1, e.layer() + "." + e.expert(), fmt(e.score()));
        }
        out.printf("%nlayers%n%5s  %14s  %12s%n", "layer", "logprob before", "shared");
        for (int si = 0; si < r.sparseLayers().size(); si++) {
            out.printf("%5d  %14s  %12s%n", r.sparseLayers().get(si), fmt(r.before(si)), fmt(r.sharedScore(si)));
        }
    }

    static void expertUsage(PrintWriter out, ExpertUsageResult r, int top) {
        out.printf("expert usage over %d cases (%d positions), by REAP saliency%n", r.prompts().cases().size(),
                r.tokens());
        out.printf("%4s  %-9s  %7s  %9s  %11s  %9s%n", "rank", "expert", "count", "frequency", "mean weight", "reap");
        List<ExpertUsageResult.ExpertStats> shown = first(r.ranked(), top);
        for (int i = 0; i < shown.size(); i++) {
            ExpertUsageResult.ExpertStats e = shown.get(i);
            out.printf("%4d  %-9s  %7d  %9s  %11s  %9s%n", i + 1, e.layer() + "." + e.expert(), e.count(),
                    fmt(e.frequency()), fmt(e.meanWeight()), fmt(e.reap()));
        }
    }

    private static <T> List<T> first(List<T> ranked, int top) {
        return ranked.subList(0, top == 0 ? ranked.size() : Math.min(top, ranked.size()));
    }

    static void comparison(PrintWriter out, Findings f) {
        JsonNode d = f.document();
        String against = switch (d.path("comparison").asText()) {
            case "heads-ablated" -> "heads " + d.path("ablate").toString().replaceAll("[\\[\\]\"]", "") + " ablated";
            case "checkpoints" -> "checkpoint " + d.path("against").path("path").asText();
            case "adapter" -> "the model with LoRA adapter " + d.path("against").path("adapter").path("path").asText();
            default -> "the contrast prompt" + (d.path("input").has("contrast") ? " " + d.path("input").path("contrast") : "s");
        };
        out.printf("CNA over %d position(s): A = the model, B = %s; mean p_A = %s, p_B = %s%n", d.path("positions").asInt(),
                against, fmt(d.path("base").path("prob_a").asDouble()), fmt(d.path("base").path("prob_b").asDouble()));
        JsonNode sc = d.path("scoring");
        scored(out, sc.path("method").asText().equals("bounds"), sc.path("neurons_scored").asLong(),
                sc.path("neurons").asLong());
        out.printf("%4s  %-10s  %9s  %9s  %9s  %9s  %9s  %s%n", "rank", "neuron", "diff", "score_a", "score_b", "coef_a",
                "coef_b", "top tokens");
        int rank = 1;
        for (Findings.RankedNeuron n : f.neurons()) {
            JsonNode o = n.fields();
            List<String> tokens = new ArrayList<>();
            for (JsonNode t : o.path("top_tokens")) {
                tokens.add(t.path("token").isNull() ? "#" + t.path("id").asInt() : t.path("token").toString());
            }
            out.printf("%4d  %-10s  %9s  %9s  %9s  %9s  %9s  %s%n", rank++, n.neuron(), fmt(o.path("diff").asDouble()),
                    fmt(o.path("score_a").asDouble()), fmt(o.path("score_b").asDouble()), fmt(o.path("coef_a").asDouble()),
                    fmt(o.path("coef_b").asDouble()), String.join(" ", tokens));
        }
    }

    /** After bounds: how many neurons were scored exactly (the list is the exhaustive one either way). */
    private static void scored(PrintWriter out, boolean bounded, long scored, long total) {
        if (bounded) {
            out.printf(java.util.Locale.ROOT, "%,d of %,d neurons scored exactly; %s (--exhaustive scores all)%n",
                    scored, total, scored < total ? "bounds rule out the rest" : "the bounds ruled out none");
        }
    }

    private static String targets(int[] ids, TextTokenizer tok) {
        List<String> parts = new ArrayList<>();
        for (int id : ids) {
            parts.add(id + " " + quoted(tok, id));
        }
        return String.join(", ", parts);
    }

    private static String pct(double v) {
        return Double.isFinite(v) ? String.format(java.util.Locale.ROOT, "%.1f", v) : "n/a";
    }
}
