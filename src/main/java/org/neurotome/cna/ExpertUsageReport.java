package org.neurotome.cna;

import org.neurotome.eval.Markup;
import org.neurotome.eval.ReportHtml;
import org.neurotome.eval.SvgBarChart;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The pictures of an expert usage count ({@link ExpertUsageResult}): a standalone layer × expert
 * heatmap of REAP saliency, and a self-contained HTML page with, per sparse layer, a table of
 * every expert's count, frequency, mean routing weight and REAP saliency and bar charts of the
 * frequency and the saliency (the saliency ranking is what REAP expert pruning removes the
 * lowest of; Lasby et al., 2025, §3).
 */
public final class ExpertUsageReport {
    private static final String TITLE = "<title>neurotome expert usage: ";

    private ExpertUsageReport() {
    }

    /** The REAP saliency of every expert as a layer × expert heatmap, dense layers blank (0). */
    public static String chart(ExpertUsageResult r, int layers) {
        double[][] t = new double[layers][r.experts()];
        for (int l : r.sparseLayers()) {
            for (int e = 0; e < r.experts(); e++) {
                t[l][e] = r.stats(l, e).reap();
            }
        }
        return FindingsChart.heatmap("expert usage: REAP saliency over " + r.tokens() + " positions", "reap", "expert", t);
    }

    /** The HTML page of {@code r}, its model named {@code model}. */
    public static String html(ExpertUsageResult r, String model) {
        StringBuilder out = new StringBuilder(ReportHtml.head("neurotome expert usage: " + model));
        out.append("<h1>Expert usage: ").append(Markup.escape(model)).append("</h1>\n");
        out.append(String.format(Locale.ROOT, "<p>%d cases, %d positions; each position routed to its top-k experts."
                + " REAP saliency: mean of routing weight × ‖expert output‖₂ over the positions that select the"
                + " expert (0 when none does).</p>%n", r.prompts().cases().size(), r.tokens()));
        List<String> names = new ArrayList<>();
        for (int e = 0; e < r.experts(); e++) {
            names.add(String.valueOf(e));
        }
        for (int l : r.sparseLayers()) {
            out.append("<h2>Layer ").append(l).append("</h2>\n<table>\n<tr><th>expert</th><th>count</th>"
                    + "<th>frequency</th><th>mean weight</th><th>REAP</th></tr>\n");
            List<Double> frequency = new ArrayList<>();
            List<Double> reap = new ArrayList<>();
            for (int e = 0; e < r.experts(); e++) {
                ExpertUsageResult.ExpertStats s = r.stats(l, e);
                frequency.add(s.frequency());
                reap.add(s.reap());
                out.append(String.format(Locale.ROOT, "<tr><td>%d</td><td class=\"num\">%d</td><td class=\"num\">%.4f"
                                + "</td><td class=\"num\">%.4f</td><td class=\"num\">%.4f</td></tr>%n", e, s.count(),
                        s.frequency(), s.meanWeight(), s.reap()));
            }
            out.append("</table>\n<div class=\"charts\">\n");
            out.append(new SvgBarChart("layer " + l + ": selection frequency", names, List.of(new SvgBarChart.Series(
                    "frequency", ReportHtml.CANDIDATE_COLOR, frequency)), true).svg());
            out.append(new SvgBarChart("layer " + l + ": REAP saliency", names, List.of(new SvgBarChart.Series(
                    "REAP", ReportHtml.CANDIDATE_COLOR, reap)), false).svg());
            out.append("</div>\n");
        }
        return out.append("</body>\n</html>\n").toString();
    }

    /** Whether {@code file} is an expert usage page written earlier (which may be replaced). */
    public static boolean isReport(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return new String(in.readNBytes(2048), StandardCharsets.UTF_8).contains(TITLE);
        } catch (IOException e) {
            return false;
        }
    }
}
