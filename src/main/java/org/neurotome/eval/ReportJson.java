package org.neurotome.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import org.neurotome.Json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code report.json} of an evaluation run. Top-level keys: {@code tool} (name, version),
 * {@code seed}, {@code model} and {@code baseline} (name, sha256; baseline null when absent),
 * {@code passed}, {@code metrics}, {@code baseline_metrics}, {@code comparison} (the
 * {@code .delta}/{@code .rel_change} of every shared metric), {@code paired} (per case-level
 * accuracy metric: n, both_correct, b, c, both_wrong), {@code gates} (name, metric, relation,
 * bound, value, passed, reason), {@code tasks} (name, kind, dataset path and sha256, filters, limit, cases),
 * {@code breakdowns} (per task: dimension, quantity, rows of key, metric, n, value, baseline),
 * {@code cases} (per task, per case: line, prompt, target, labels and each model's token ids,
 * log-probs, predicted ids, target log-prob, correctness) and {@code timings} (left out of a
 * report without any, as {@code apply} writes it). Map keys are written sorted ({@link Json}),
 * so two runs on the same inputs give the same bytes except inside {@code timings}.
 */
public final class ReportJson {
    private ReportJson() {
    }

    /** The report as UTF-8 JSON text with a final newline. */
    public static String render(EvalReport r) {
        try {
            return Json.pretty().writeValueAsString(tree(r)) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the report", e);
        }
    }

    /** The report as nested maps and lists. */
    public static Map<String, Object> tree(EvalReport r) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("tool", Map.of("name", "neurotome", "version", r.toolVersion()));
        root.put("seed", r.seed());
        root.put("model", model(r.model()));
        root.put("baseline", r.baseline().map(ReportJson::model).orElse(null));
        root.put("passed", r.passed());
        root.put("metrics", r.metrics());
        root.put("baseline_metrics", r.baselineMetrics());
        root.put("comparison", r.comparison());
        Map<String, Object> paired = new LinkedHashMap<>();
        r.paired().forEach((name, p) -> paired.put(name, Map.of(
                "n", p.n(), "both_correct", p.bothCorrect(), "b", p.b(), "c", p.c(), "both_wrong", p.bothWrong())));
        root.put("paired", paired);
        List<Object> gates = new ArrayList<>();
        for (GateResult g : r.gates()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", g.name());
            m.put("metric", g.metric());
            m.put("relation", g.relation());
            m.put("bound", g.bound());
            m.put("value", g.value());
            m.put("passed", g.passed());
            m.put("reason", g.reason());
            gates.add(m);
        }
        root.put("gates", gates);
        List<Object> tasks = new ArrayList<>();
        Map<String, Object> breakdowns = new LinkedHashMap<>();
        Map<String, Object> cases = new LinkedHashMap<>();
        for (TaskResult t : r.tasks()) {
            tasks.add(task(t));
            breakdowns.put(t.spec().id(), breakdowns(t, r));
            cases.put(t.spec().id(), cases(t));
        }
        root.put("tasks", tasks);
        root.put("breakdowns", breakdowns);
        root.put("cases", cases);
        if (!r.timings().isEmpty()) {
            root.put("timings", timings(r.timings()));
        }
        return root;
    }

    private static Map<String, Object> model(ModelInfo m) {
        return Map.of("name", m.name(), "sha256", m.sha256());
    }

    private static Map<String, Object> task(TaskResult t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", t.spec().id());
        m.put("kind", t.spec().kind().yamlName());
        m.put("dataset", Map.of("path", t.dataset().file().toString(), "sha256", t.dataset().sha256()));
        m.put("filters", t.spec().filters());
        m.put("limit", t.spec().limit().isPresent() ? t.spec().limit().getAsInt() : null);
        m.put("cases", t.dataset().cases().size());
        return m;
    }

    private static List<Object> breakdowns(TaskResult t, EvalReport r) {
        List<Object> out = new ArrayList<>();
        for (Breakdown b : t.candidate().metrics().breakdowns()) {
            List<Object> rows = new ArrayList<>();
            for (Breakdown.Row row : b.rows()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("key", row.key());
                m.put("metric", row.metric());
                m.put("n", row.n());
                m.put("value", r.metrics().get(row.metric()));
                m.put("baseline", r.baselineMetrics().get(row.metric()));
                rows.add(m);
            }
            out.add(Map.of("dimension", b.dimension(), "quantity", b.quantity(), "rows", rows));
        }
        return out;
    }

    private static List<Object> cases(TaskResult t) {
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < t.dataset().cases().size(); i++) {
            EvalCase c = t.dataset().cases().get(i);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("line", t.dataset().lines().get(i));
            m.put("prompt", c.prompt());
            m.put("target", c.target());
            m.put("labels", c.labels());
            m.put("candidate", score(t.candidate().scores().get(i)));
            int index = i;
            m.put("baseline", t.baseline().map(b -> score(b.scores().get(index))).orElse(null));
            out.add(m);
        }
        return out;
    }

    private static Map<String, Object> score(CaseScore s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokens", s.tokens().stream().map(TokenScore::id).toList());
        m.put("logprobs", s.tokens().stream().map(TokenScore::logProb).toList());
        m.put("predicted", s.tokens().stream().map(TokenScore::predicted).toList());
        m.put("logprob", s.logProb());
        m.put("correct", s.correct());
        return m;
    }

    private static Map<String, Object> timings(List<TaskTiming> timings) {
        List<Object> rows = new ArrayList<>();
        double total = 0;
        for (TaskTiming t : timings) {
            rows.add(Map.of("task", t.task(), "model", t.model(), "cases", t.cases(), "batches", t.batches(),
                    "seconds", t.seconds(), "cases_per_second", t.casesPerSecond()));
            total += t.seconds();
        }
        return Map.of("scoring", rows, "total_seconds", total);
    }
}
