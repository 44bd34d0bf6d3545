package org.neurotome.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code report.html} of an evaluation run: one self-contained page (inline CSS and inline
 * SVG, no script, no external font, image or stylesheet; a Content-Security-Policy forbids
 * loading anything) with the verdict, the gate table in green and red, the headline metrics
 * with their change from the baseline, per task a bar chart of every breakdown, baseline and
 * candidate side by side (accuracy per operation, template and digit count; bias gap per
 * profession and template; perplexity) followed by the breakdown tables, and last the models'
 * and data sets' names and SHA-256s. The markup is well-formed XML (XHTML-compatible), and all
 * text is escaped.
 */
public final class ReportHtml {
    public static final String CANDIDATE_COLOR = "#2b6cb0";
    static final String BASELINE_COLOR = "#a0aec0";

    private static final String CSS = """
            body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
                   margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #1a202c; background: #fff; }
            h1 { font-size: 24px; margin: 0 0 8px; }
            h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid #e2e8f0; padding-bottom: 4px; }
            h3 { font-size: 15px; margin: 16px 0 6px; }
            table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
            th, td { border: 1px solid #e2e8f0; padding: 4px 10px; text-align: left; }
            td.num { text-align: right; font-variant-numeric: tabular-nums; }
            th { background: #f7fafc; }
            code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
            .verdict { display: inline-block; padding: 6px 14px; border-radius: 4px; font-weight: bold; }
            .verdict.pass, tr.pass td { background: #e6f4ea; color: #137333; }
            .verdict.fail, tr.fail td { background: #fce8e6; color: #a50e0e; }
            tr.pass td.result, tr.fail td.result { font-weight: bold; }
            .charts { display: flex; flex-wrap: wrap; gap: 12px; }
            svg.chart { border: 1px solid #e2e8f0; border-radius: 4px; background: #fff; font-family: inherit; }
            details { margin: 8px 0; }
            summary { cursor: pointer; color: #2b6cb0; }
            """;

    /** How every report's title starts (how an earlier report is recognised before it is replaced). */
    static final String TITLE = "<title>neurotome eval: ";

    private ReportHtml() {
    }

    /** The page as UTF-8 text. */
    public static String render(EvalReport r) {
        StringBuilder out = new StringBuilder(head(TITLE.substring("<title>".length()) + r.model().name()));
        header(out, r);
        gates(out, r);
        metrics(out, r);
        for (TaskResult t : r.tasks()) {
            task(out, r, t);
        }
        provenance(out, r);
        out.append("</body>\n</html>\n");
        return out.toString();
    }

    /**
     * The start of a self-contained report page, up to and including {@code <body>}: the
     * security policy that forbids loading anything, {@code title}, and the reports' style sheet.
     */
    public static String head(String title) {
        return "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                + "<meta charset=\"utf-8\"/>\n"
                + "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
                + "<title>" + e(title) + "</title>\n"
                + "<style>\n" + CSS + "</style>\n</head>\n<body>\n";
    }

    private static void header(StringBuilder out, EvalReport r) {
        out.append("<h1>neurotome evaluation report</h1>\n<p class=\"verdict ")
                .append(r.gates().isEmpty() ? "none" : r.passed() ? "pass" : "fail").append("\">").append(e(r.verdict()))
                .append("</p>\n")
                .append("<p>candidate <code>").append(e(r.model().name())).append("</code>");
        r.baseline().ifPresent(b -> out.append(" against baseline <code>").append(e(b.name())).append("</code>"));
        out.append("</p>\n");
    }

    private static void provenance(StringBuilder out, EvalReport r) {
        out.append("<h2>Models and data sets</h2>\n<table>\n");
        row(out, "candidate", r.model().name(), "SHA-256 " + r.model().sha256());
        r.baseline().ifPresent(b -> row(out, "baseline", b.name(), "SHA-256 " + b.sha256()));
        row(out, "tool", "neurotome " + r.toolVersion(), "");
        row(out, "seed", Long.toString(r.seed()), "");
        out.append("</table>\n<table>\n<tr><th>task</th><th>kind</th><th>data set</th><th>SHA-256</th><th>cases</th></tr>\n");
        for (TaskResult t : r.tasks()) {
            out.append("<tr><td>").append(e(t.spec().id())).append("</td><td>").append(e(t.spec().kind().yamlName()))
                    .append("</td><td><code>").append(e(t.dataset().file().toString())).append("</code></td><td><code>")
                    .append(e(t.dataset().sha256())).append("</code></td><td class=\"num\">")
                    .append(t.dataset().cases().size()).append("</td></tr>\n");
        }
        out.append("</table>\n");
    }

    private static void row(StringBuilder out, String key, String value, String note) {
        out.append("<tr><th>").append(e(key)).append("</th><td>")
                .append(e(value)).append("</td><td><code>").append(e(note)).append("</code></td></tr>\n");
    }

    private static void gates(StringBuilder out, EvalReport r) {
        out.append("<h2>Gates</h2>\n");
        if (r.gates().isEmpty()) {
            out.append("<p>No gate was set.</p>\n");
            return;
        }
        out.append("<table class=\"gates\">\n<tr><th>gate</th><th>value</th><th>result</th><th>note</th></tr>\n");
        for (GateResult g : r.gates()) {
            out.append("<tr class=\"").append(g.passed() ? "pass" : "fail").append("\"><td><code>").append(e(g.name()))
                    .append("</code></td><td class=\"num\">").append(e(Markup.gateValue(g)))
                    .append("</td><td class=\"result\">").append(g.passed() ? "PASS" : "FAIL").append("</td><td>")
                    .append(e(g.reason() == null ? "" : g.reason())).append("</td></tr>\n");
        }
        out.append("</table>\n");
    }

    private static void metrics(StringBuilder out, EvalReport r) {
        boolean base = r.baseline().isPresent();
        out.append("<h2>Metrics</h2>\n<table class=\"metrics\">\n<tr><th>metric</th><th>candidate</th>");
        if (base) {
            out.append("<th>baseline</th><th>change</th><th>relative</th>");
        }
        out.append("</tr>\n");
        for (Map.Entry<String, Double> m : r.metrics().entrySet()) {
            String name = m.getKey();
            if (name.contains("=")) {
                continue;
            }
            out.append("<tr><td><code>").append(e(name)).append("</code></td><td class=\"num\">")
                    .append(e(Markup.metric(name, m.getValue()))).append("</td>");
            if (base) {
                out.append("<td class=\"num\">").append(e(Markup.metric(name, r.baselineMetrics().get(name))))
                        .append("</td><td class=\"num\">").append(e(Markup.delta(name, r.comparison().get(name + ".delta"))))
                        .append("</td><td class=\"num\">").append(e(Markup.percent(r.comparison().get(name + ".rel_change"))))
                        .append("</td>");
            }
            out.append("</tr>\n");
        }
        out.append("</table>\n");
    }

    private static void task(StringBuilder out, EvalReport r, TaskResult t) {
        String name = t.spec().id();
        out.append("<h2 id=\"task-").append(e(name)).append("\">").append(e(name)).append(" <small>(")
                .append(e(t.spec().kind().yamlName())).append(")</small></h2>\n<div class=\"charts\">\n");
        List<Breakdown> breakdowns = t.candidate().metrics().breakdowns();
        for (String quantity : headlineCharts(t.spec().kind())) {
            out.append(chart(r, name + ": " + quantity, List.of(quantity), List.of(name + "." + quantity),
                    quantity.equals("accuracy")));
        }
        for (Breakdown b : breakdowns) {
            if (b.dimension().contains(".")) {
                continue;
            }
            out.append(chart(r, title(name, b),
                    b.rows().stream().map(Breakdown.Row::key).toList(),
                    b.rows().stream().map(Breakdown.Row::metric).toList(),
                    b.quantity().equals("accuracy")));
        }
        out.append("</div>\n");
        for (Breakdown b : breakdowns) {
            table(out, r, name, b);
        }
    }

    /** The metrics of a kind without a breakdown, charted as single bars. */
    private static List<String> headlineCharts(TaskKind kind) {
        return switch (kind) {
            case FACTUAL -> List.of("accuracy");
            case LANGUAGE -> List.of("perplexity", "accuracy");
            default -> List.of();
        };
    }

    /** {@code arithmetic: accuracy by operation}, {@code gender: bias gap by profession}. */
    private static String title(String task, Breakdown b) {
        String by = switch (b.dimension()) {
            case "op" -> "operation";
            case "digits" -> "operand digits";
            case "op.digits" -> "operation and operand digits";
            case "prof" -> "profession";
            case "bias" -> "biased gender";
            default -> b.dimension();
        };
        return task + ": " + b.quantity().replace('_', ' ') + " by " + by;
    }

    private static String chart(EvalReport r, String title, List<String> categories, List<String> metrics, boolean unit) {
        List<SvgBarChart.Series> series = new ArrayList<>();
        if (r.baseline().isPresent()) {
            series.add(new SvgBarChart.Series("baseline", BASELINE_COLOR,
                    metrics.stream().map(r.baselineMetrics()::get).toList()));
        }
        series.add(new SvgBarChart.Series("candidate", CANDIDATE_COLOR, metrics.stream().map(r.metrics()::get).toList()));
        return new SvgBarChart(title, categories, series, unit).svg();
    }

    private static void table(StringBuilder out, EvalReport r, String task, Breakdown b) {
        boolean base = r.baseline().isPresent();
        out.append("<details>\n<summary>").append(e(title(task, b)))
                .append(" (").append(b.rows().size()).append(" rows)</summary>\n<table>\n<tr><th>")
                .append(e(b.dimension())).append("</th><th>n</th><th>candidate</th>");
        if (base) {
            out.append("<th>baseline</th><th>change</th>");
        }
        out.append("</tr>\n");
        for (Breakdown.Row row : b.rows()) {
            out.append("<tr><td>").append(e(row.key())).append("</td><td class=\"num\">").append(row.n())
                    .append("</td><td class=\"num\">").append(e(Markup.metric(row.metric(), r.metrics().get(row.metric()))))
                    .append("</td>");
            if (base) {
                out.append("<td class=\"num\">").append(e(Markup.metric(row.metric(), r.baselineMetrics().get(row.metric()))))
                        .append("</td><td class=\"num\">").append(e(Markup.delta(row.metric(), r.comparison().get(row.metric() + ".delta"))))
                        .append("</td>");
            }
            out.append("</tr>\n");
        }
        out.append("</table>\n</details>\n");
    }

    private static String e(String s) {
        return Markup.escape(s);
    }
}
