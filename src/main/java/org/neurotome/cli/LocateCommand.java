package org.neurotome.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.AtomicFile;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;
import org.neurotome.analysis.Analyses;
import org.neurotome.analysis.AnalysisSpec;
import org.neurotome.arch.Head;
import org.neurotome.cna.Attribution;
import org.neurotome.cna.AttributionResult;
import org.neurotome.cna.ComparisonResult;
import org.neurotome.cna.ComponentScores;
import org.neurotome.cna.ExpertAttributionResult;
import org.neurotome.cna.ExpertScanResult;
import org.neurotome.cna.ExpertUsageReport;
import org.neurotome.cna.ExpertUsageResult;
import org.neurotome.cna.Findings;
import org.neurotome.cna.FindingsChart;
import org.neurotome.cna.HeadScan;
import org.neurotome.cna.HeadScanResult;
import org.neurotome.cna.PromptSet;
import org.neurotome.cna.Provenance;
import org.neurotome.cna.Scoring;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
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

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code neurotome locate}: the analyses of docs/method.md A2–A4 on one prompt or a data set —
 * a head scan, log-probability-increase attribution, or Comparative Neuron Analysis against
 * ablated heads, a second checkpoint or a second prompt — as a ranked table on stdout, a
 * findings JSON ({@code docs/findings.md}) and an SVG chart.
 */
@Command(name = "locate", mixinStandardHelpOptions = true,
        description = "Rank the attention heads and FFN neurons behind a prediction: head scan, "
                + "log-probability-increase attribution, or Comparative Neuron Analysis (CNA); in a mixture of experts, "
                + "the experts: expert scan, expert attribution, expert usage (selection frequency, routing weight, "
                + "REAP saliency).")
public final class LocateCommand implements Callable<Integer> {
    static final List<String> METHODS = Findings.METHODS;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Checkpoint directory (config.json + safetensors), or a .tar, .tar.gz or .tar.zst archive of one.")
    Path model;

    @Option(names = "--method", required = true, paramLabel = "METHOD",
            description = "head-scan, attribution, cna, or for a mixture of experts expert-scan, expert-attribution "
                    + "or expert-usage.")
    String method;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--prompt", paramLabel = "TEXT", required = true,
                description = "Text to encode with the model's tokenizer.json.")
        String prompt;

        @Option(names = "--ids", paramLabel = "ID,ID,...", required = true,
                description = "Token ids, comma-separated, used as they are; give it once.")
        String ids;

        @Option(names = "--dataset", paramLabel = "FILE", required = true,
                description = "JSONL cases {\"prompt\",\"target\",\"labels\"}; each target token is scored teacher-forced.")
        Path dataset;
    }

    @Option(names = "--limit", paramLabel = "N", description = "With --dataset: only the first N cases (after --where).")
    Integer limit;

    @Option(names = "--where", paramLabel = "KEY=VALUE",
            description = "With --dataset: keep the cases whose label KEY is VALUE (repeatable; all must hold).")
    Map<String, String> where = new LinkedHashMap<>();

    @Option(names = "--target", paramLabel = "TOKEN",
            description = "The token to score instead of the model's top-1: text that continues the prompt, or id:N "
                    + "(with --ids a bare number is an id).")
    String target;

    @Option(names = "--ablate", paramLabel = "HEADS", split = ",",
            description = "cna: compare with these heads ablated, e.g. 17.22,14.19.")
    List<String> ablate = new ArrayList<>();

    @Option(names = "--against", paramLabel = "MODEL2", description = "cna: compare with a second checkpoint of the same shape.")
    Path against;

    @Option(names = "--against-adapter", paramLabel = "DIR",
            description = "cna: compare with the same checkpoint with this PEFT LoRA adapter on its weights "
                    + "(A = the model, B = the model + LoRA, as P1 §5).")
    Path againstAdapter;

    @Option(names = "--contrast", paramLabel = "TEXT2", description = "cna with --prompt: compare with this second prompt.")
    String contrast;

    @Option(names = "--swap", paramLabel = "WORD=WORD2",
            description = "cna: compare with every prompt's word WORD replaced by WORD2 (e.g. woman=man).")
    String swap;

    @Option(names = "--by", paramLabel = "KEY", split = ",",
            description = "head-scan over a data set: report accuracy per value of these labels "
                    + "(default: every label with 2 to 16 values).")
    List<String> by;

    @Option(names = "--top", paramLabel = "K", defaultValue = "20",
            description = "Entries to list and write (0: all). Default: ${DEFAULT-VALUE}.")
    int top;

    @Option(names = "--exhaustive",
            description = "attribution, cna: score every neuron and head exactly, as --top 0 does, instead of only "
                    + "those that bounds on the scores cannot rule out of the top K (the lists are the same).")
    boolean exhaustive;

    @Option(names = "--top-tokens", paramLabel = "N", defaultValue = "10",
            description = "cna: top tokens listed per neuron value vector. Default: ${DEFAULT-VALUE}.")
    int topTokens;

    @Option(names = "--per-case", description = "Also write each scored position's own ranking into the JSON.")
    boolean perCase;

    @Option(names = "--neuron-path", paramLabel = "PATH", defaultValue = "value-projections",
            description = "How neurons are scored: value-projections (fast) or per-neuron (one vocabulary "
                    + "projection per neuron, the reference formula). Default: ${DEFAULT-VALUE}.")
    String neuronPath;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the findings JSON here.")
    Path json;

    @Option(names = "--svg", paramLabel = "FILE",
            description = "Write an SVG: layer × head heatmap (head-scan), per-layer bars (attribution, cna) or "
                    + "layer × expert heatmap (expert-scan: drop, expert-attribution: score, expert-usage: REAP).")
    Path svg;

    @Option(names = "--html", paramLabel = "FILE",
            description = "expert-usage: write an HTML page with each sparse layer's table and charts of expert usage.")
    Path html;

    @Mixin
    ModelOptions run;

    @Override
    public Integer call() {
        checkOptions();
        checkOutputs();
        PrintWriter out = spec.commandLine().getOut();
        ProgressBar progress = new ProgressBar(spec.commandLine().getErr());
        try (TorchThreads threads = run.resources.threads();
             LanguageModel lm = run.open(model)) {
            lm.transformer().setProgress((done, total) -> progress.update("layers", done, total));
            Loaded in = load(lm);
            Provenance prov = new Provenance(Provenance.model(lm), null, in.description, parameters());
            TextTokenizer tok = lm.tokenizer().orElse(null);
            Analyses.Context ctx = new Analyses.Context(run.device.resolve(), run.resources.budget(), progress, line -> { },
                    (other, named) -> Provenance.model(other), org.neurotome.analysis.ShardStore.OWN);
            Shown shown = Analyses.run(lm, in.prompts, spec(lm, in.prompts), perCase, ctx, outcome -> {
                progress.finish();
                return show(lm, outcome, prov, tok, out);
            });
            out.flush();
            if (json != null) {
                shown.findings().write(json);
            }
            if (svg != null) {
                AtomicFile.write(svg, shown.chart());
            }
        }
        return 0;
    }

    /** An analysis's findings and its chart. */
    private record Shown(Findings findings, String chart) {
    }

    /** The findings of {@code outcome}, its table printed to {@code out}, and its chart. */
    private Shown show(LanguageModel lm, Analyses.Outcome outcome, Provenance prov, TextTokenizer tok, PrintWriter out) {
        return switch (outcome) {
            case Analyses.HeadScanned(HeadScanResult r) -> {
                LocateTables.headScan(out, r, top, tok);
                yield new Shown(Findings.headScan(r, prov, top, tok, perCase), FindingsChart.heatmap(
                        "head scan: " + r.rankedBy() + " when the head is ablated", r.rankedBy(), r.rankingTable()));
            }
            case Analyses.Attributed(AttributionResult r) -> {
                LocateTables.attribution(out, r, top, tok);
                ComponentScores m = r.mean();
                yield new Shown(Findings.attribution(r, prov, top, tok, perCase), FindingsChart.layerBars(
                        "log-probability increase per layer", "increase", List.of("attention", "FFN"),
                        new double[][] {m.attention(), m.ffn()}));
            }
            case Analyses.ExpertScanned(ExpertScanResult r) -> {
                LocateTables.expertScan(out, r, top, tok);
                yield new Shown(Findings.expertScan(r, prov, top, tok), FindingsChart.heatmap("expert scan: "
                        + r.rankedBy() + " when the expert is removed from the routing", r.rankedBy(), "expert",
                        byLayer(lm, r.sparseLayers(), r.rankingTable())));
            }
            case Analyses.ExpertsAttributed(ExpertAttributionResult r) -> {
                LocateTables.expertAttribution(out, r, top, tok);
                double[][] t = new double[r.sparseLayers().size()][r.experts()];
                for (int si = 0; si < t.length; si++) {
                    for (int e = 0; e < r.experts(); e++) {
                        t[si][e] = r.score(si, e);
                    }
                }
                yield new Shown(Findings.expertAttribution(r, prov, top, tok, perCase), FindingsChart.heatmap(
                        "expert attribution: log-probability increase", "score", "expert", byLayer(lm, r.sparseLayers(), t)));
            }
            case Analyses.ExpertsUsed(ExpertUsageResult r) -> {
                LocateTables.expertUsage(out, r, top);
                if (html != null) {
                    AtomicFile.write(html, ExpertUsageReport.html(r, model.toString()));
                }
                yield new Shown(Findings.expertUsage(r, prov, top), ExpertUsageReport.chart(r, lm.config().numLayers()));
            }
            case Analyses.Compared c -> {
                Provenance withB = c.modelB() == null ? prov
                        : new Provenance(prov.model(), c.modelB(), prov.input(), prov.parameters());
                Findings findings = Findings.comparison(c.result(), withB, top, topTokens, tok, perCase);
                LocateTables.comparison(out, findings);
                ComparisonResult r = c.result();
                if (r.scored().bounded()) {
                    yield new Shown(findings, FindingsChart.layerBars("CNA: sum of the differences of the "
                                    + r.scored().neurons() + " neurons scored exactly, per layer (" + r.kind().key() + ")",
                            "diff", List.of("positive", "negative"), scoredSums(r.diff())));
                }
                double[][] layers = new double[2][];
                layers[0] = findings.document().path("layers").findValues("positive_diff").stream()
                        .mapToDouble(v -> v.asDouble()).toArray();
                layers[1] = findings.document().path("layers").findValues("negative_diff").stream()
                        .mapToDouble(v -> v.asDouble()).toArray();
                yield new Shown(findings, FindingsChart.layerBars("CNA: sum of neuron differences per layer ("
                        + r.kind().key() + ")", "diff", List.of("positive", "negative"), layers));
            }
        };
    }

    /** Rows of the sparse layers spread over every layer of the model, dense layers 0. */
    private static double[][] byLayer(LanguageModel lm, List<Integer> sparse, double[][] rows) {
        double[][] all = new double[lm.config().numLayers()][rows[0].length];
        for (int si = 0; si < sparse.size(); si++) {
            all[sparse.get(si)] = rows[si];
        }
        return all;
    }

    /** The analysis the options ask for. */
    private AnalysisSpec spec(LanguageModel lm, PromptSet prompts) {
        return switch (method) {
            case "head-scan" -> new AnalysisSpec.HeadScan(by, 1);
            case "attribution" -> new AnalysisSpec.Attribution(neuronPath(), scoring(), 1);
            case "expert-scan" -> new AnalysisSpec.ExpertScan();
            case "expert-attribution" -> new AnalysisSpec.ExpertAttribution();
            case "expert-usage" -> new AnalysisSpec.ExpertUsage();
            default -> new AnalysisSpec.Cna(against != null ? new AnalysisSpec.OtherCheckpoint(against)
                    : againstAdapter != null ? new AnalysisSpec.WithAdapter(againstAdapter)
                    : !ablate.isEmpty() ? new AnalysisSpec.AblatedHeads(
                            ablate.stream().map(h -> Head.parse(h).check(lm.config())).toList())
                    : new AnalysisSpec.ContrastPrompts(contrastSide(lm, prompts)), neuronPath(), scoring());
        };
    }

    private Scoring scoring() {
        return Scoring.of(top, null, exhaustive);
    }

    /** Per layer, the sums of the positive and of the negative differences among the neurons scored (not NaN). */
    private static double[][] scoredSums(float[][] diff) {
        double[][] out = new double[2][diff.length];
        for (int l = 0; l < diff.length; l++) {
            for (float v : diff[l]) {
                if (!Float.isNaN(v)) {
                    out[0][l] += Math.max(v, 0);
                    out[1][l] += Math.min(v, 0);
                }
            }
        }
        return out;
    }

    private Attribution.NeuronPath neuronPath() {
        return switch (neuronPath) {
            case "value-projections" -> Attribution.NeuronPath.VALUE_PROJECTIONS;
            case "per-neuron" -> Attribution.NeuronPath.PER_NEURON;
            default -> throw NeurotomeException.badInput("--neuron-path '" + neuronPath
                    + "' is not known; allowed: value-projections, per-neuron");
        };
    }

    private void checkOptions() {
        if (!METHODS.contains(method)) {
            throw NeurotomeException.badInput("--method '" + method + "' is not known; allowed: " + String.join(", ", METHODS));
        }
        if (top < 0) {
            throw NeurotomeException.badInput("--top must be 0 (all) or more, got " + top);
        }
        if (exhaustive && method.equals("head-scan")) {
            throw NeurotomeException.badInput("--exhaustive chooses how attribution and cna score neurons; a head-scan "
                    + "always ablates every head");
        }
        boolean experts = method.startsWith("expert-");
        if (experts && (exhaustive || !neuronPath.equals("value-projections"))) {
            throw NeurotomeException.badInput("--exhaustive and --neuron-path choose how attribution and cna score "
                    + "neurons; --method " + method + " scores every expert");
        }
        if (perCase && (method.equals("expert-scan") || method.equals("expert-usage"))) {
            throw NeurotomeException.badInput("--per-case lists each position's scores of head-scan, attribution, cna "
                    + "and expert-attribution; --method " + method + " reports totals");
        }
        if (target != null && method.equals("expert-usage")) {
            throw NeurotomeException.badInput("--target is not used by --method expert-usage: it counts the routing at "
                    + "every position of the input, whatever comes next");
        }
        if (html != null && !method.equals("expert-usage")) {
            throw NeurotomeException.badInput("--html writes the page of --method expert-usage; --method is " + method);
        }
        if (topTokens < 0) {
            throw NeurotomeException.badInput("--top-tokens must be 0 or more, got " + topTokens);
        }
        if (input.dataset == null && (limit != null || !where.isEmpty())) {
            throw NeurotomeException.badInput("--limit and --where select cases of a --dataset");
        }
        if (limit != null && limit < 1) {
            throw NeurotomeException.badInput("--limit must be at least 1, got " + limit);
        }
        if (input.dataset != null && target != null) {
            throw NeurotomeException.badInput("--target cannot be used with --dataset: each case gives its own target");
        }
        if (by != null && (!method.equals("head-scan") || input.dataset == null)) {
            throw NeurotomeException.badInput("--by groups the accuracy of a head-scan over a --dataset");
        }
        int comparisons = (ablate.isEmpty() ? 0 : 1) + (against == null ? 0 : 1) + (againstAdapter == null ? 0 : 1)
                + (contrast == null ? 0 : 1) + (swap == null ? 0 : 1);
        if (method.equals("cna") && comparisons != 1) {
            throw NeurotomeException.badInput("--method cna needs exactly one of --ablate HEADS, --against MODEL2, "
                    + "--against-adapter DIR, --contrast TEXT2 or --swap WORD=WORD2"
                    + (comparisons > 1 ? " (got " + comparisons + ")" : ""));
        }
        if (!method.equals("cna") && comparisons > 0) {
            throw NeurotomeException.badInput("--ablate, --against, --against-adapter, --contrast and --swap choose what "
                    + "--method cna compares with; --method is " + method);
        }
        if (contrast != null && input.prompt == null) {
            throw NeurotomeException.badInput("--contrast TEXT2 compares with a second text prompt: use it with --prompt"
                    + " (or --swap WORD=WORD2 with --dataset)");
        }
        if (swap != null && !swap.matches("[^=]+=[^=]+")) {
            throw NeurotomeException.badInput("--swap '" + swap + "': expected WORD=WORD2, e.g. woman=man");
        }
    }

    /** Refuses, before any analysis, a --json or --svg file that would replace an input or a file not ours. */
    private void checkOutputs() {
        Map<String, Path> inputs = new LinkedHashMap<>();
        inputs.put("the model", model);
        inputs.put("the checkpoint of --against", against);
        inputs.put("the data set", input.dataset);
        inputs.put("the adapter of --adapter", run.adapter.adapter);
        inputs.put("the adapter of --against-adapter", againstAdapter);
        OutputGuard guard = OutputGuard.protecting(inputs);
        if (json != null) {
            guard.file(json, "a findings JSON", Findings::isFindingsFile);
        }
        if (svg != null) {
            guard.file(svg, "an SVG chart", FindingsChart::isChart);
        }
        if (html != null) {
            guard.file(html, "an expert usage page", ExpertUsageReport::isReport);
        }
        if (json != null && svg != null && json.toAbsolutePath().normalize().equals(svg.toAbsolutePath().normalize())) {
            throw NeurotomeException.badInput("--json and --svg name the same file " + json + "; give two files");
        }
    }

    /** The prompts to analyse and how they are described in the findings. */
    private record Loaded(PromptSet prompts, ObjectNode description) {
    }

    private Loaded load(LanguageModel lm) {
        if (input.dataset != null) {
            List<EvalCase> cases = select(EvalCaseFile.read(input.dataset));
            return new Loaded(PromptSet.ofCases(lm, cases, input.dataset.toString()),
                    Provenance.dataset(input.dataset, input.dataset.toString(), where, limit, cases.size()));
        }
        PromptSet prompts;
        if (input.prompt != null) {
            if (target != null && target.startsWith("id:")) {
                prompts = PromptSet.of(List.of(new PromptSet.Case(input.prompt, lm.encode(input.prompt),
                        new int[] {targetId(target.substring(3))}, new LinkedHashMap<>())));
            } else {
                prompts = PromptSet.ofText(lm, input.prompt, target);
            }
        } else {
            int[] ids = PromptInput.parseIds("--ids", input.ids);
            lm.checkLength(ids.length);
            prompts = PromptSet.ofIds(ids, target == null ? new int[0] : idsOfTarget(lm, target));
        }
        ObjectNode d = Provenance.prompt(input.prompt, prompts.cases().getFirst().prompt());
        if (contrast != null) {
            d.put("contrast", contrast);
        }
        return new Loaded(prompts, d);
    }

    private static int targetId(String text) {
        try {
            return Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw NeurotomeException.badInput("--target id:" + text + ": expected a token id after 'id:'");
        }
    }

    /** With --ids: a bare number or id:N is an id; other text is encoded on its own. */
    private static int[] idsOfTarget(LanguageModel lm, String t) {
        if (t.startsWith("id:")) {
            return new int[] {targetId(t.substring(3))};
        }
        if (t.matches("\\d+")) {
            return new int[] {Integer.parseInt(t)};
        }
        int[] ids = lm.encode(t);
        boolean bos = lm.tokenizer().map(TextTokenizer::addsBos).orElse(false);
        int[] tokens = bos ? Arrays.copyOfRange(ids, 1, ids.length) : ids;
        if (tokens.length == 0) {
            throw NeurotomeException.badInput("--target '" + t + "' encodes to no token");
        }
        return tokens;
    }

    private List<EvalCase> select(List<EvalCase> cases) {
        for (String key : by == null ? List.<String>of() : by) {
            if (cases.stream().noneMatch(c -> c.labels().containsKey(key))) {
                throw NeurotomeException.badInput("--by " + key + ": no case of " + input.dataset + " has the label '"
                        + key + "'; labels: " + labels(cases));
            }
        }
        for (String key : where.keySet()) {
            if (cases.stream().noneMatch(c -> c.labels().containsKey(key))) {
                throw NeurotomeException.badInput("--where " + key + "=…: no case of " + input.dataset
                        + " has the label '" + key + "'; labels: " + labels(cases));
            }
        }
        List<EvalCase> kept = cases.stream().filter(c -> where.entrySet().stream()
                .allMatch(w -> w.getValue().equals(String.valueOf(c.labels().get(w.getKey()))))).toList();
        if (limit != null && kept.size() > limit) {
            kept = kept.subList(0, limit);
        }
        if (kept.isEmpty()) {
            throw NeurotomeException.badInput(input.dataset + ": no case left to analyse" + (where.isEmpty() ? "" : " with --where " + where));
        }
        return kept;
    }

    /** Every label any case carries, sorted, for messages. */
    private static String labels(List<EvalCase> cases) {
        java.util.Set<String> all = new java.util.TreeSet<>();
        cases.forEach(c -> all.addAll(c.labels().keySet()));
        return all.isEmpty() ? "none" : String.join(", ", all);
    }

    private PromptSet contrastSide(LanguageModel lm, PromptSet a) {
        if (contrast != null) {
            return a.withPrompts(List.of(lm.encode(contrast)), List.of(contrast));
        }
        String[] words = swap.split("=", 2);
        return a.swapWord(lm, words[0], words[1]);
    }

    private ObjectNode parameters() {
        ObjectNode p = Json.MAPPER.createObjectNode();
        p.put("method", method);
        p.put("top", top);
        putIfSet(p, "target", target);
        if (!ablate.isEmpty()) {
            ArrayNode a = p.putArray("ablate");
            ablate.forEach(a::add);
        }
        putIfSet(p, "against", against == null ? null : against.toString());
        putIfSet(p, "against_adapter", againstAdapter == null ? null : againstAdapter.toString());
        putIfSet(p, "adapter", run.adapter.adapter == null ? null : run.adapter.adapter.toString());
        putIfSet(p, "contrast", contrast);
        putIfSet(p, "swap", swap);
        if (method.equals("cna")) {
            p.put("top_tokens", topTokens);
        }
        if (by != null) {
            ArrayNode a = p.putArray("by");
            by.forEach(a::add);
        }
        p.put("per_case", perCase);
        if (method.equals("attribution") || method.equals("cna")) {
            p.put("neuron_path", neuronPath);
            if (exhaustive) {
                p.put("exhaustive", true);
            }
        }
        p.put("device", run.device.device);
        return p;
    }

    private static void putIfSet(ObjectNode o, String key, String value) {
        if (value != null) {
            o.put(key, value);
        }
    }

    static String fmt(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4f", v) : "n/a";
    }

    static String quoted(TextTokenizer tok, int id) {
        if (tok == null) {
            return "#" + id;
        }
        try {
            return Json.MAPPER.writeValueAsString(tok.token(id));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
