package org.neurotome.eval;

import java.util.Locale;

/**
 * Text helpers for the HTML/SVG report: escaping for XML-compatible markup and the number
 * formats every view of a report shares (the summary table, the HTML report, the model card).
 */
public final class Markup {
    private Markup() {
    }

    /**
     * {@code s} safe as element text or a quoted attribute value: {@code & < > " '} escaped, and
     * characters XML forbids (C0 controls other than tab, newline, carriage return; unpaired
     * surrogates; U+FFFE, U+FFFF) replaced by U+FFFD.
     */
    public static String escape(String s) {
        StringBuilder out = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> {
                    if (Character.isHighSurrogate(ch) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                        out.append(ch).append(s.charAt(++i));
                    } else if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
                            || Character.isSurrogate(ch) || ch == '\uFFFE' || ch == '\uFFFF') {
                        out.append('\uFFFD');
                    } else {
                        out.append(ch);
                    }
                }
            }
        }
        return out.toString();
    }

    /** A metric value: counts ({@code .cases}, {@code .tokens}) as integers, anything else to 4 decimals; null as a dash. */
    public static String metric(String name, Double v) {
        if (v == null) {
            return "—";
        }
        return String.format(Locale.ROOT, isCount(name) ? "%.0f" : "%.4f", v);
    }

    /** The change of metric {@code name}, signed, in the metric's own format; null as a dash. */
    public static String delta(String name, Double v) {
        if (v == null) {
            return "—";
        }
        return String.format(Locale.ROOT, isCount(name) ? "%+.0f" : "%+.4f", v);
    }

    private static boolean isCount(String name) {
        return name.endsWith(".cases") || name.endsWith(".tokens");
    }

    /** The value a gate compared: a p-value for {@code not_worse}, otherwise the metric's format; null as a dash. */
    public static String gateValue(GateResult g) {
        if (g.value() == null) {
            return "—";
        }
        return g.relation().equals("not_worse") ? String.format(Locale.ROOT, "p=%.3g", g.value()) : metric(g.metric(), g.value());
    }

    /** A relative change in percent to one decimal; null as a dash. */
    public static String percent(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%+.1f%%", 100 * v);
    }

    /** A coordinate for SVG: two decimals, no locale. */
    static String coord(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }
}
