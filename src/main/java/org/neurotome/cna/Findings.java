package org.neurotome.cna;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.AtomicFile;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.Tool;
import org.neurotome.arch.Head;
import org.neurotome.arch.LayerRange;
import org.neurotome.arch.Neuron;
import org.neurotome.model.TextTokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A findings document ({@code docs/findings.md}): what was run ({@link Provenance}), then
 * the ranked heads and neurons of a head scan, an attribution or a CNA run, as JSON. The
 * the experts of a mixture of experts (expert scan, expert attribution, expert usage) are
 * listed under {@code experts}, ranked by {@code rank.experts}. The
 * same class writes documents from results and reads them back (a recipe's
 * {@code from: findings.json}); {@link #heads()} and {@link #neurons()} list the entries in
 * rank order with the value they are ranked by ({@code rank.heads}, {@code rank.neurons}).
 */
public final class Findings {
    public static final String FORMAT = "neurotome-findings/1";
    private static final String SCORING_FOR_TOP = "scoring_for_top";
    public static final List<String> METHODS = List.of("head-scan", "attribution", "cna", "expert-scan",
            "expert-attribution", "expert-usage");

    /** A head of the ranked list, its ranking value and all its fields. */
    public record RankedHead(Head head, double value, ObjectNode fields) {
    }

    /** A neuron of the ranked list, its ranking value and all its fields. */
    public record RankedNeuron(Neuron neuron, double value, ObjectNode fields) {
    }

    private final ObjectNode document;
    private final String method;
    private final Integer target;
    private final List<RankedHead> heads;
    private final List<RankedNeuron> neurons;

    private Findings(ObjectNode document, String where) {
        this.document = document;
        if (!FORMAT.equals(document.path("format").asText())) {
            throw bad(where, "\"format\" is " + document.get("format") + "; expected \"" + FORMAT + "\"");
        }
        this.method = document.path("method").asText();
        if (!METHODS.contains(method)) {
            throw bad(where, "\"method\" is " + document.get("method") + "; allowed: " + String.join(", ", METHODS));
        }
        JsonNode t = document.get("target");
        if (t != null && !t.isNull() && !t.canConvertToInt()) {
            throw bad(where, "\"target\" must be a token id or null, got " + t);
        }
        this.target = t == null || t.isNull() ? null : t.asInt();
        this.heads = new ArrayList<>();
        this.neurons = new ArrayList<>();
        String headKey = document.path("rank").path("heads").asText(null);
        String neuronKey = document.path("rank").path("neurons").asText(null);
        for (JsonNode h : list(document, "heads", where)) {
            heads.add(new RankedHead(new Head(index(h, "layer", where), index(h, "head", where)), value(h, headKey),
                    (ObjectNode) h));
        }
        for (JsonNode n : list(document, "neurons", where)) {
            neurons.add(new RankedNeuron(new Neuron(index(n, "layer", where), index(n, "neuron", where)),
                    value(n, neuronKey), (ObjectNode) n));
        }
    }

    /**
     * These findings with only the entries in {@code layers} (null: every layer) and the first
     * {@code top} of each ranked list (0: all), the per-case lists included; where they state
     * what a search for {@code top} would have scored ({@code scoring_for_top}), that is their
     * {@code scoring}.
     */
    public Findings restrict(int top, LayerRange layers) {
        ObjectNode d = document.deepCopy();
        JsonNode forTop = d.remove(SCORING_FOR_TOP);
        if (forTop != null && forTop.has(Integer.toString(top))) {
            d.set("scoring", forTop.get(Integer.toString(top)));
        }
        trim(d, top, layers);
        for (JsonNode c : d.path("cases")) {
            trim((ObjectNode) c, top, layers);
        }
        return new Findings(d, method);
    }

    /**
     * These findings with {@code parameters} in place of the recorded ones: a sweep's variant
     * cuts a ranking computed once for the largest top among the variants and records its own.
     */
    public Findings withParameters(ObjectNode parameters) {
        ObjectNode d = document.deepCopy();
        d.set("parameters", parameters);
        return new Findings(d, method);
    }

    private static void trim(ObjectNode o, int top, LayerRange layers) {
        for (String key : List.of("heads", "neurons", "experts")) {
            JsonNode list = o.get(key);
            if (list == null || !list.isArray()) {
                continue;
            }
            ArrayNode kept = Json.MAPPER.createArrayNode();
            for (JsonNode e : list) {
                if ((layers == null || layers.contains(e.path("layer").asInt())) && (top == 0 || kept.size() < top)) {
                    kept.add(e);
                }
            }
            o.set(key, kept);
        }
    }

    /** Reads and checks a findings file; anything malformed is a BAD_INPUT error naming the file. */
    public static Findings read(Path file) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw NeurotomeException.badInput(file + ": cannot read findings: " + NeurotomeException.reason(e));
        }
        if (root == null || !root.isObject()) {
            throw bad(file.toString(), "expected a JSON object");
        }
        return new Findings((ObjectNode) root, file.toString());
    }

    /** Whether {@code file} is a findings document (an earlier output that may be replaced). */
    public static boolean isFindingsFile(Path file) {
        try {
            return FORMAT.equals(Json.MAPPER.readTree(file.toFile()).path("format").asText());
        } catch (IOException e) {
            return false;
        }
    }

    /** The findings of a head scan: heads ranked by {@link HeadScanResult#rankedBy()}. */
    public static Findings headScan(HeadScanResult r, Provenance p, int top, TextTokenizer tok, boolean perCase) {
        ObjectNode d = header("head-scan", p, r.prompts(), r.targets(), tok);
        ObjectNode base = base(d, r);
        if (!r.groupBy().isEmpty()) {
            base.set("by_label", labels(r.baseByLabel(), false));
        }
        d.putObject("rank").put("heads", r.rankedBy()).putNull("neurons");
        ArrayNode heads = d.putArray("heads");
        List<HeadScanResult.HeadEffect> ranked = r.ranked();
        for (HeadScanResult.HeadEffect e : ranked.subList(0, limit(top, ranked.size()))) {
            ObjectNode o = heads.addObject();
            o.put("layer", e.head().layer()).put("head", e.head().head());
            effect(o, e);
            num(o, "relative_drop", e.relativeDrop());
            if (!r.groupBy().isEmpty()) {
                o.set("by_label", labels(e.byLabel(), true));
            }
        }
        d.putArray("neurons");
        if (perCase) {
            ArrayNode cases = d.putArray("cases");
            for (HeadScanResult.CaseOutcome c : r.baseCases()) {
                ObjectNode o = cases.addObject();
                o.put("case", c.caseIndex());
                o.put("prompt", r.prompts().cases().get(c.caseIndex()).describe());
                ids(o, "target_ids", c.targets());
                num(o, "logprob", c.logprob());
                o.put("correct", c.correct());
            }
        }
        return new Findings(d, "head scan");
    }

    /** The findings of an attribution: heads and neurons ranked by mean {@code score}. */
    public static Findings attribution(AttributionResult r, Provenance p, int top, TextTokenizer tok, boolean perCase) {
        ObjectNode d = header("attribution", p, r.prompts(), targets(r.steps()), tok);
        ObjectNode base = d.putObject("base");
        num(base, "prob", r.steps().stream().mapToDouble(StepScores::prob).average().orElseThrow());
        num(base, "logprob", r.steps().stream().mapToDouble(StepScores::logprob).average().orElseThrow());
        if (r.steps().size() == 1) {
            num(base, "final_var", r.steps().getFirst().norm().finalVar());
        }
        scoring(d, r.scored());
        d.putObject("rank").put("heads", "score").put("neurons", "score");
        scores(d, r.mean(), top);
        ArrayNode layers = d.putArray("layers");
        ComponentScores m = r.mean();
        for (int l = 0; l < m.attention().length; l++) {
            ObjectNode o = layers.addObject().put("layer", l);
            num(o, "attention", m.attention()[l]);
            num(o, "ffn", m.ffn()[l]);
            num(o, "head_base_logprob", m.headBase()[l]);
            num(o, "neuron_base_logprob", m.neuronBase()[l]);
        }
        if (perCase) {
            ArrayNode cases = d.putArray("cases");
            for (int s = 0; s < r.steps().size(); s++) {
                StepScores st = r.steps().get(s);
                ObjectNode o = position(cases, r.prompts(), s, st.target(), tok);
                num(o, "prob", st.prob());
                scores(o, st.scores(), top);
            }
        }
        return new Findings(d, "attribution");
    }

    /** The findings of a CNA run: neurons ranked by {@code diff}, with the top tokens of their value vectors. */
    public static Findings comparison(ComparisonResult r, Provenance p, int top, int topTokens, TextTokenizer tok,
                                      boolean perCase) {
        ObjectNode d = header("cna", p, r.a().prompts(), targets(r.stepsA()), tok);
        d.put("comparison", r.kind().key());
        ArrayNode ablate = d.putArray("ablate");
        r.b().ablate().forEach(h -> ablate.add(h.toString()));
        ObjectNode base = d.putObject("base");
        num(base, "prob_a", r.probA());
        num(base, "prob_b", r.probB());
        scoring(d, r.scored());
        d.putObject("rank").putNull("heads").put("neurons", "diff");
        d.putArray("heads");
        d.set("neurons", differences(r, r.ranked(top), topTokens, tok));
        ArrayNode layers = d.putArray("layers");
        float[][] diff = r.diff();
        for (int l = 0; l < diff.length; l++) {
            double pos = 0;
            double neg = 0;
            for (float v : diff[l]) {
                pos += Math.max(v, 0);
                neg += Math.min(v, 0);
            }
            ObjectNode o = layers.addObject().put("layer", l);
            num(o, "positive_diff", pos);
            num(o, "negative_diff", neg);
        }
        if (perCase) {
            ArrayNode cases = d.putArray("cases");
            for (int s = 0; s < r.stepsA().size(); s++) {
                ObjectNode o = position(cases, r.a().prompts(), s, r.stepsA().get(s).target(), tok);
                num(o, "prob_a", r.stepsA().get(s).prob());
                num(o, "prob_b", r.stepsB().get(s).prob());
                o.set("neurons", differences(r, r.rankedAt(s, top), topTokens, tok));
            }
        }
        return new Findings(d, "cna");
    }

    /** The findings of an expert scan: experts ranked by {@link ExpertScanResult#rankedBy()}. */
    public static Findings expertScan(ExpertScanResult r, Provenance p, int top, TextTokenizer tok) {
        ObjectNode d = header("expert-scan", p, r.prompts(), r.targets(), tok);
        base(d, r);
        ArrayNode experts = experts(d, r.rankedBy());
        List<ExpertScanResult.ExpertEffect> ranked = r.ranked();
        for (ExpertScanResult.ExpertEffect e : ranked.subList(0, limit(top, ranked.size()))) {
            ObjectNode o = experts.addObject().put("layer", e.layer()).put("expert", e.expert());
            effect(o, e);
        }
        return new Findings(d, "expert scan");
    }

    /** The findings of an expert attribution: experts ranked by mean {@code score}, per layer the shared expert's. */
    public static Findings expertAttribution(ExpertAttributionResult r, Provenance p, int top, TextTokenizer tok,
                                             boolean perCase) {
        ObjectNode d = header("expert-attribution", p, r.prompts(), r.targets(), tok);
        ObjectNode base = d.putObject("base");
        num(base, "prob", r.baseProb());
        num(base, "logprob", r.baseLogprob());
        ArrayNode experts = experts(d, "score");
        List<ExpertAttributionResult.ExpertScore> ranked = r.ranked();
        for (ExpertAttributionResult.ExpertScore e : ranked.subList(0, limit(top, ranked.size()))) {
            num(experts.addObject().put("layer", e.layer()).put("expert", e.expert()), "score", e.score());
        }
        ArrayNode layers = d.putArray("layers");
        for (int si = 0; si < r.sparseLayers().size(); si++) {
            ObjectNode o = layers.addObject().put("layer", r.sparseLayers().get(si));
            num(o, "logprob_before", r.before(si));
            if (r.hasShared()) {
                num(o, "shared_score", r.sharedScore(si));
            } else {
                o.putNull("shared_score");
            }
        }
        if (perCase) {
            ArrayNode cases = d.putArray("cases");
            for (int s = 0; s < r.steps().size(); s++) {
                ExpertAttributionResult.StepExperts st = r.steps().get(s);
                ObjectNode o = position(cases, r.prompts(), s, st.target(), tok);
                num(o, "prob", Math.exp(st.logprob()));
                ArrayNode ls = o.putArray("layers");
                for (int si = 0; si < r.sparseLayers().size(); si++) {
                    ObjectNode lo = ls.addObject().put("layer", r.sparseLayers().get(si));
                    num(lo, "logprob_before", st.before()[si]);
                    ArrayNode inc = lo.putArray("increase");
                    for (float v : st.increase()[si]) {
                        inc.add(v);
                    }
                    if (st.shared() != null) {
                        num(lo, "shared_increase", st.shared()[si]);
                    } else {
                        lo.putNull("shared_increase");
                    }
                }
            }
        }
        return new Findings(d, "expert attribution");
    }

    /**
     * The findings of an expert usage count: experts ranked by REAP saliency, and per layer
     * every expert's count, frequency, mean routing weight and saliency in expert order.
     */
    public static Findings expertUsage(ExpertUsageResult r, Provenance p, int top) {
        ObjectNode d = header("expert-usage", p, r.prompts(), new int[0], null);
        d.putNull("target");
        d.remove("target_ids");
        d.put("tokens", r.tokens());
        ArrayNode experts = experts(d, "reap");
        List<ExpertUsageResult.ExpertStats> ranked = r.ranked();
        for (ExpertUsageResult.ExpertStats e : ranked.subList(0, limit(top, ranked.size()))) {
            usage(experts.addObject().put("layer", e.layer()).put("expert", e.expert()), e);
        }
        ArrayNode layers = d.putArray("layers");
        for (int l : r.sparseLayers()) {
            ObjectNode o = layers.addObject().put("layer", l);
            ArrayNode count = o.putArray("count");
            ArrayNode frequency = o.putArray("frequency");
            ArrayNode weight = o.putArray("mean_weight");
            ArrayNode reap = o.putArray("reap");
            for (int e = 0; e < r.experts(); e++) {
                ExpertUsageResult.ExpertStats s = r.stats(l, e);
                count.add(s.count());
                frequency.add(s.frequency());
                weight.add(s.meanWeight());
                reap.add(s.reap());
            }
        }
        return new Findings(d, "expert usage");
    }

    /** {@code base}: the unablated model's mean probability, log-probability and accuracy. */
    private static ObjectNode base(ObjectNode d, AblationScanResult r) {
        ObjectNode base = d.putObject("base");
        num(base, "prob", r.baseProb());
        num(base, "logprob", r.baseLogprob());
        num(base, "accuracy", r.baseAccuracy());
        return base;
    }

    private static void effect(ObjectNode o, AblationScanResult.Effect e) {
        num(o, "prob", e.prob());
        num(o, "logprob", e.logprob());
        num(o, "drop", e.drop());
        num(o, "logprob_drop", e.logprobDrop());
        num(o, "accuracy", e.accuracy());
        num(o, "accuracy_drop", e.accuracyDrop());
    }

    /** The ranking of an expert analysis by {@code rankedBy}: no heads, no neurons, the experts' array to fill. */
    private static ArrayNode experts(ObjectNode d, String rankedBy) {
        d.putObject("rank").putNull("heads").putNull("neurons").put("experts", rankedBy);
        d.putArray("heads");
        d.putArray("neurons");
        return d.putArray("experts");
    }

    private static void usage(ObjectNode o, ExpertUsageResult.ExpertStats e) {
        o.put("count", e.count());
        num(o, "frequency", e.frequency());
        num(o, "mean_weight", e.meanWeight());
        num(o, "reap", e.reap());
    }

    /** Writes the document to {@code file} through a temporary sibling, so a failure leaves no partial file. */
    public void write(Path file) {
        try {
            AtomicFile.write(file, Json.pretty().writeValueAsString(document) + "\n");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public ObjectNode document() {
        return document;
    }

    /** One of {@link #METHODS}. */
    public String method() {
        return method;
    }

    /** The token scored when the input was one prompt with one target token, else null. */
    public Integer target() {
        return target;
    }

    /** The ranked heads, best first (empty for CNA). */
    public List<RankedHead> heads() {
        return List.copyOf(heads);
    }

    /** The ranked neurons, best first (empty for a head scan). */
    public List<RankedNeuron> neurons() {
        return List.copyOf(neurons);
    }

    private static ObjectNode header(String method, Provenance p, PromptSet prompts, int[] stepTargets,
                                     TextTokenizer tok) {
        ObjectNode d = Json.MAPPER.createObjectNode();
        d.put("format", FORMAT);
        d.put("method", method);
        d.putObject("tool").put("name", "neurotome").put("version", Tool.version());
        d.set("model", p.model());
        if (p.against() != null) {
            d.set("against", p.against());
        }
        d.set("input", p.input());
        d.set("parameters", p.parameters());
        d.put("cases", prompts.cases().size());
        d.put("positions", prompts.steps().size());
        if (prompts.cases().size() == 1) {
            if (stepTargets.length == 1) {
                d.put("target", stepTargets[0]);
            } else {
                d.putNull("target");
            }
            ids(d, "target_ids", stepTargets);
            if (tok != null) {
                ArrayNode t = d.putArray("target_tokens");
                for (int id : stepTargets) {
                    t.add(tok.token(id));
                }
            }
        } else {
            d.putNull("target");
        }
        return d;
    }

    /**
     * What was scored exactly: every component, or how many the bounds left of how many; and,
     * under {@code scoring_for_top}, what searches for smaller tops would have scored (a sweep's
     * shared ranking, which {@link #restrict} cuts).
     */
    private static void scoring(ObjectNode d, Scoring.Summary s) {
        d.set("scoring", scoring(s));
        if (!s.forTop().isEmpty()) {
            ObjectNode by = d.putObject(SCORING_FOR_TOP);
            s.forTop().forEach((top, t) -> by.set(Integer.toString(top), scoring(t)));
        }
    }

    private static ObjectNode scoring(Scoring.Summary s) {
        ObjectNode o = Json.MAPPER.createObjectNode().put("method", s.bounded() ? "bounds" : "exhaustive");
        o.put("neurons_scored", s.neurons()).put("neurons", s.neuronsTotal());
        if (s.heads() >= 0) {
            o.put("heads_scored", s.heads()).put("heads", s.headsTotal());
        }
        return o;
    }

    private static ObjectNode position(ArrayNode cases, PromptSet prompts, int step, int target, TextTokenizer tok) {
        PromptSet.Step s = prompts.steps().get(step);
        PromptSet.Case c = prompts.cases().get(s.caseIndex());
        ObjectNode o = cases.addObject();
        o.put("case", s.caseIndex());
        o.put("position", s.context().length - c.prompt().length);
        o.put("prompt", c.describe());
        o.put("target", target);
        if (tok != null) {
            o.put("target_token", tok.token(target));
        }
        return o;
    }

    /** {@code heads} and {@code neurons}: the first {@code top} of each in {@code scores}, ranked by score. */
    private static void scores(ObjectNode o, ComponentScores scores, int top) {
        ArrayNode heads = o.putArray("heads");
        for (AttributionResult.HeadScore h : AttributionResult.heads(scores, top)) {
            num(heads.addObject().put("layer", h.head().layer()).put("head", h.head().head()), "score", h.score());
        }
        ArrayNode neurons = o.putArray("neurons");
        for (AttributionResult.NeuronScore n : AttributionResult.neurons(scores, top)) {
            ObjectNode e = neurons.addObject().put("layer", n.neuron().layer()).put("neuron", n.neuron().neuron());
            num(e, "score", n.score());
            num(e, "coef", n.coef());
        }
    }

    private static ArrayNode differences(ComparisonResult r, List<ComparisonResult.NeuronDifference> ranked,
                                         int topTokens, TextTokenizer tok) {
        int[][] tokens = topTokens > 0 ? r.topTokens(ranked, topTokens) : new int[ranked.size()][0];
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (int i = 0; i < ranked.size(); i++) {
            ComparisonResult.NeuronDifference n = ranked.get(i);
            ObjectNode o = a.addObject().put("layer", n.neuron().layer()).put("neuron", n.neuron().neuron());
            num(o, "diff", n.diff());
            num(o, "score_a", n.scoreA());
            num(o, "score_b", n.scoreB());
            num(o, "coef_a", n.coefA());
            num(o, "coef_b", n.coefB());
            ArrayNode t = o.putArray("top_tokens");
            for (int id : tokens[i]) {
                ObjectNode to = t.addObject().put("id", id);
                if (tok != null) {
                    to.put("token", tok.token(id));
                } else {
                    to.putNull("token");
                }
            }
        }
        return a;
    }

    private static ObjectNode labels(Map<String, ? extends Map<String, HeadScanResult.LabelAccuracy>> byLabel,
                                     boolean drops) {
        ObjectNode out = Json.MAPPER.createObjectNode();
        byLabel.forEach((key, values) -> {
            ObjectNode k = out.putObject(key);
            values.forEach((value, acc) -> {
                ObjectNode v = k.putObject(value);
                v.put("cases", acc.cases());
                num(v, "accuracy", acc.accuracy());
                if (drops) {
                    num(v, "accuracy_drop", acc.drop());
                    num(v, "relative_drop", acc.relativeDrop());
                }
            });
        });
        return out;
    }

    private static int[] targets(List<StepScores> steps) {
        return steps.stream().mapToInt(StepScores::target).toArray();
    }

    private static void ids(ObjectNode o, String key, int[] ids) {
        ArrayNode a = o.putArray(key);
        for (int id : ids) {
            a.add(id);
        }
    }

    /** A finite number, or null (JSON has no NaN). */
    private static void num(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) {
            o.put(key, v);
        } else {
            o.putNull(key);
        }
    }

    private static int limit(int top, int size) {
        return top <= 0 ? size : Math.min(top, size);
    }

    private static Iterable<JsonNode> list(ObjectNode d, String key, String where) {
        JsonNode a = d.get(key);
        if (a == null || !a.isArray()) {
            throw bad(where, "\"" + key + "\" must be an array");
        }
        for (JsonNode e : a) {
            if (!e.isObject()) {
                throw bad(where, "every entry of \"" + key + "\" must be an object, got " + e);
            }
        }
        return a;
    }

    private static int index(JsonNode entry, String key, String where) {
        JsonNode v = entry.get(key);
        if (v == null || !v.canConvertToInt() || v.asInt() < 0) {
            throw bad(where, "entry " + entry + " needs a non-negative integer \"" + key + "\"");
        }
        return v.asInt();
    }

    private static double value(JsonNode entry, String key) {
        JsonNode v = key == null ? null : entry.get(key);
        return v == null || !v.isNumber() ? Double.NaN : v.asDouble();
    }

    private static NeurotomeException bad(String where, String what) {
        return NeurotomeException.badInput(where + ": not a findings document: " + what);
    }
}
