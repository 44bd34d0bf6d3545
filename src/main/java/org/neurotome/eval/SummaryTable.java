package org.neurotome.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The plain-text summary an evaluation prints: the headline metrics (breakdowns are in the
 * reports) with baseline and change when there is a baseline, then one line per gate and the
 * verdict, in aligned columns.
 */
public final class SummaryTable {
    private SummaryTable() {
    }

    /** The summary, lines ending in {@code \n}. */
    public static String render(EvalReport r) {
        boolean base = r.baseline().isPresent();
        List<String[]> rows = new ArrayList<>();
        rows.add(base ? new String[] {"metric", "candidate", "baseline", "change", "relative"}
                : new String[] {"metric", "candidate"});
        for (Map.Entry<String, Double> m : r.metrics().entrySet()) {
            String name = m.getKey();
            if (name.contains("=")) {
                continue;
            }
            String value = Markup.metric(name, m.getValue());
            rows.add(base ? new String[] {name, value, Markup.metric(name, r.baselineMetrics().get(name)),
                    Markup.delta(name, r.comparison().get(name + ".delta")), Markup.percent(r.comparison().get(name + ".rel_change"))}
                    : new String[] {name, value});
        }
        StringBuilder out = new StringBuilder();
        columns(out, rows);
        if (!r.gates().isEmpty()) {
            out.append('\n');
            List<String[]> gates = new ArrayList<>();
            gates.add(new String[] {"gate", "value", "result"});
            for (GateResult g : r.gates()) {
                gates.add(new String[] {g.name(), Markup.gateValue(g), g.passed() ? "PASS" : "FAIL"});
            }
            columns(out, gates);
        }
        int failed = r.failedGates().size();
        out.append('\n').append(r.verdict());
        if (failed > 0) {
            out.append("; failed: ").append(String.join(", ", r.failedGates().stream()
                    .map(g -> g.reason() == null ? g.name() : g.name() + " (" + g.reason() + ")").toList()));
        }
        return out.append('\n').toString();
    }

    /** Left-aligns the first column and right-aligns the others. */
    private static void columns(StringBuilder out, List<String[]> rows) {
        int[] width = new int[rows.getFirst().length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                if (i == 0) {
                    line.append(row[i]).append(" ".repeat(width[i] - row[i].length()));
                } else {
                    line.append("  ").append(" ".repeat(width[i] - row[i].length())).append(row[i]);
                }
            }
            out.append(line.toString().stripTrailing()).append('\n');
        }
    }
}
