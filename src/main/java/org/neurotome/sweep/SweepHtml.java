package org.neurotome.sweep;

import org.neurotome.eval.Markup;
import org.neurotome.eval.ReportHtml;
import org.neurotome.eval.SvgScatterChart;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The {@code sweep.html} beside {@code sweep.json}: one self-contained page in the eval report's
 * style (inline CSS and SVG, nothing loaded) with the verdict (the best variant, or that none
 * passed every gate), the units planned, run and reused, a table of every variant (its grid
 * values, the objective, each gate's value with pass or fail, its checkpoint), and per gate a
 * scatter plot of the objective against that gate's value, the best variant marked.
 */
final class SweepHtml {
    private SweepHtml() {
    }

    static String render(SweepResult s) {
        SweepPlan plan = s.plan();
        String objective = plan.objective().metric() + " (" + plan.objective().goal().name().toLowerCase(Locale.ROOT) + ")";
        StringBuilder out = new StringBuilder(ReportHtml.head("neurotome sweep: " + plan.recipe().getFileName()));
        out.append("<h1>neurotome sweep report</h1>\n");
        if (s.best() >= 0) {
            out.append("<p class=\"verdict pass\">best: variant ").append(s.best()).append(" (")
                    .append(e(overrides(s.results().get(s.best())))).append(")</p>\n");
        } else {
            out.append("<p class=\"verdict fail\">no variant passed every gate</p>\n");
        }
        out.append("<p>recipe <code>").append(e(plan.recipe().toString())).append("</code>; objective <code>")
                .append(e(objective)).append("</code>; units: ").append(plan.planned()).append(" planned, ")
                .append(s.run()).append(" run, ").append(s.reused()).append(" reused, ").append(s.failed().size())
                .append(" failed</p>\n");
        table(out, s);
        charts(out, s);
        out.append("</body>\n</html>\n");
        return out.toString();
    }

    private static void table(StringBuilder out, SweepResult s) {
        List<String> keys = new ArrayList<>(s.plan().grid().axes().keySet());
        List<String> gates = gateNames(s);
        out.append("<h2>Variants</h2>\n<table>\n<tr><th>variant</th>");
        keys.forEach(k -> out.append("<th><code>").append(e(k)).append("</code></th>"));
        out.append("<th>").append(e(s.plan().objective().metric())).append("</th>");
        gates.forEach(g -> out.append("<th><code>").append(e(g)).append("</code></th>"));
        out.append("<th>model SHA-256</th><th>checkpoint</th></tr>\n");
        for (int i = 0; i < s.results().size(); i++) {
            UnitResult r = s.results().get(i);
            out.append("<tr class=\"").append(r.passed() ? "pass" : "fail").append("\"><td>").append(i)
                    .append(i == s.best() ? " (best)" : "").append("</td>");
            for (String k : keys) {
                out.append("<td><code>").append(e(r.overrides().get(k))).append("</code></td>");
            }
            if (!r.done()) {
                out.append("<td colspan=\"").append(gates.size() + 3).append("\">failed (exit ").append(r.exitCode())
                        .append("): ").append(e(r.error())).append("</td></tr>\n");
                continue;
            }
            out.append("<td class=\"num\">").append(Markup.metric(s.plan().objective().metric(),
                    r.value(s.plan().objective().metric()))).append("</td>");
            for (String g : gates) {
                UnitResult.Gate gate = r.gates().stream().filter(x -> x.name().equals(g)).findFirst().orElse(null);
                out.append("<td class=\"num\">").append(gate == null ? "—"
                        : number(gate.value()) + (gate.passed() ? " PASS" : " FAIL")).append("</td>");
            }
            out.append("<td><code>").append(e(r.model().substring(0, 12))).append("</code></td><td>")
                    .append(s.kept().get(i) ? "<code>" + e(s.output(i)) + "</code>" : "not kept").append("</td></tr>\n");
        }
        out.append("</table>\n");
    }

    private static void charts(StringBuilder out, SweepResult s) {
        String objective = s.plan().objective().metric();
        out.append("<h2>Objective against each gate</h2>\n<div class=\"charts\">\n");
        for (String g : gateNames(s)) {
            List<SvgScatterChart.Point> points = new ArrayList<>();
            Double bound = null;
            boolean same = false;
            for (int i = 0; i < s.results().size(); i++) {
                UnitResult r = s.results().get(i);
                UnitResult.Gate gate = r.gates().stream().filter(x -> x.name().equals(g)).findFirst().orElse(null);
                if (gate == null) {
                    continue;
                }
                bound = gate.bound();
                same |= gate.value() != null && gate.value().equals(r.value(objective)) && g.startsWith(objective + " ");
                points.add(new SvgScatterChart.Point("variant " + i, gate.value(), r.value(objective), r.passed(),
                        i == s.best()));
            }
            if (!same) {
                out.append(SvgScatterChart.svg(objective + " against " + g, g, objective, points, bound));
            }
        }
        out.append("</div>\n");
    }

    /** The gates of the first finished variant, in suite order. */
    private static List<String> gateNames(SweepResult s) {
        return s.results().stream().filter(UnitResult::done).findFirst()
                .map(r -> r.gates().stream().map(UnitResult.Gate::name).toList()).orElse(List.of());
    }

    private static String overrides(UnitResult r) {
        return String.join(", ", r.overrides().entrySet().stream().map(x -> x.getKey() + "=" + x.getValue()).toList());
    }

    private static String number(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%.4f", v);
    }

    private static String e(String s) {
        return Markup.escape(s);
    }
}
