package org.neurotome.cna;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Standalone SVG pictures of findings: a layer × head heatmap of a head scan (as the paper's
 * Figure 2 draws the accuracy decrease of every head) or a layer × expert one of the expert analyses and per-layer bars of attribution or
 * CNA scores (the notebooks' {@code plt_bar} of attention and FFN layers). Every cell and
 * bar carries a {@code <title>} with its exact value.
 */
public final class FindingsChart {
    private static final int CELL = 18;
    private static final int MARGIN = 48;
    private static final String SVG_OPEN = "<svg xmlns=\"http://www.w3.org/2000/svg\"";
    private static final String[] SERIES_COLOURS = {"#e9967a", "#20b2aa", "#6a5acd", "#daa520"};

    private FindingsChart() {
    }

    /**
     * A heatmap of {@code values[layer][head]}: red for positive (the larger, the darker),
     * blue for negative, on one scale set by the largest magnitude.
     */
    public static String heatmap(String title, String valueName, double[][] values) {
        return heatmap(title, valueName, "head", values);
    }

    /** A heatmap of {@code values[layer][column]}, the columns named {@code columnName} (head, expert). */
    public static String heatmap(String title, String valueName, String columnName, double[][] values) {
        int layers = values.length;
        int heads = values[0].length;
        double max = 0;
        for (double[] row : values) {
            for (double v : row) {
                if (Double.isFinite(v)) {
                    max = Math.max(max, Math.abs(v));
                }
            }
        }
        int width = MARGIN + heads * CELL + 20;
        int height = MARGIN + layers * CELL + 40;
        width = Math.max(width, titleWidth(title));
        StringBuilder s = open(width, height, title);
        text(s, MARGIN + heads * CELL / 2, MARGIN - 22, "middle", escape(columnName));
        text(s, 12, MARGIN + layers * CELL / 2, "middle", "layer", "rotate(-90 12 " + (MARGIN + layers * CELL / 2) + ")");
        for (int h = 0; h < heads; h++) {
            if (heads <= 40 || h % 4 == 0) {
                text(s, MARGIN + h * CELL + CELL / 2, MARGIN - 6, "middle", String.valueOf(h));
            }
        }
        for (int l = 0; l < layers; l++) {
            text(s, MARGIN - 6, MARGIN + l * CELL + CELL / 2 + 4, "end", String.valueOf(l));
            for (int h = 0; h < heads; h++) {
                double v = values[l][h];
                s.append(String.format(Locale.ROOT,
                        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#ddd\"><title>%d.%d %s %s</title></rect>%n",
                        MARGIN + h * CELL, MARGIN + l * CELL, CELL, CELL, colour(v, max), l, h, escape(valueName), fmt(v)));
            }
        }
        text(s, MARGIN, MARGIN + layers * CELL + 24, "start", escape(valueName) + ": white 0, darkest ±" + fmt(max));
        return s.append("</svg>\n").toString();
    }

    /** Grouped bars per layer: {@code values[series][layer]}, one colour per series, with a legend. */
    public static String layerBars(String title, String valueName, List<String> series, double[][] values) {
        int layers = values[0].length;
        int group = series.size() * 10 + 6;
        int plotHeight = 220;
        double max = 0;
        for (double[] row : values) {
            for (double v : row) {
                if (Double.isFinite(v)) {
                    max = Math.max(max, Math.abs(v));
                }
            }
        }
        double scale = max == 0 ? 0 : (plotHeight / 2.0 - 10) / max;
        int zero = MARGIN + plotHeight / 2;
        int width = Math.max(MARGIN + layers * group + 140, titleWidth(title));
        int height = MARGIN + plotHeight + 40;
        StringBuilder s = open(width, height, title);
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>%n",
                MARGIN, zero, MARGIN + layers * group, zero));
        text(s, MARGIN - 6, zero - (int) (max * scale) + 4, "end", fmt(max));
        text(s, MARGIN - 6, zero + (int) (max * scale) + 4, "end", fmt(-max));
        for (int l = 0; l < layers; l++) {
            int x0 = MARGIN + l * group + 3;
            for (int k = 0; k < series.size(); k++) {
                double v = Double.isFinite(values[k][l]) ? values[k][l] : 0;
                int h = (int) Math.round(Math.abs(v) * scale);
                s.append(String.format(Locale.ROOT,
                        "<rect x=\"%d\" y=\"%d\" width=\"9\" height=\"%d\" fill=\"%s\"><title>layer %d %s %s: %s</title></rect>%n",
                        x0 + k * 10, v >= 0 ? zero - h : zero, Math.max(h, 0), SERIES_COLOURS[k % SERIES_COLOURS.length],
                        l, escape(series.get(k)), escape(valueName), fmt(values[k][l])));
            }
            if (layers <= 48 || l % 4 == 0) {
                text(s, x0 + group / 2 - 3, MARGIN + plotHeight + 14, "middle", String.valueOf(l));
            }
        }
        text(s, MARGIN + layers * group / 2, MARGIN + plotHeight + 32, "middle", "layer");
        for (int k = 0; k < series.size(); k++) {
            int y = MARGIN + 10 + k * 16;
            s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>%n",
                    MARGIN + layers * group + 12, y, SERIES_COLOURS[k % SERIES_COLOURS.length]));
            text(s, MARGIN + layers * group + 26, y + 9, "start", escape(series.get(k)));
        }
        return s.append("</svg>\n").toString();
    }

    /** Whether {@code file} is an SVG picture (one this class wrote may be replaced by a later run). */
    public static boolean isChart(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            String head = new String(in.readNBytes(256), StandardCharsets.UTF_8).stripLeading();
            return head.startsWith(SVG_OPEN) || head.startsWith("<?xml") && head.contains("<svg");
        } catch (IOException e) {
            return false;
        }
    }

    private static StringBuilder open(int width, int height, String title) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, SVG_OPEN + " width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"10\">%n", width, height, width, height));
        s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"14\" font-size=\"12\" font-weight=\"bold\">%s</text>%n",
                8, escape(title)));
        return s;
    }

    /** Room for the title at about 7 px per character of the 12 px bold font. */
    private static int titleWidth(String title) {
        return 16 + 7 * title.length();
    }

    private static void text(StringBuilder s, int x, int y, String anchor, String text) {
        text(s, x, y, anchor, text, null);
    }

    private static void text(StringBuilder s, int x, int y, String anchor, String text, String transform) {
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\"%s>%s</text>%n", x, y, anchor,
                transform == null ? "" : " transform=\"" + transform + "\"", text));
    }

    /** White at 0, towards dark red for positive and dark blue for negative values, by |v| / max. */
    static String colour(double v, double max) {
        if (!Double.isFinite(v) || max == 0) {
            return "#ffffff";
        }
        double t = Math.min(1, Math.abs(v) / max);
        int fade = (int) Math.round(255 * (1 - t));
        int deep = (int) Math.round(255 - 115 * t);
        return v >= 0 ? String.format(Locale.ROOT, "#%02x%02x%02x", deep, fade, fade)
                : String.format(Locale.ROOT, "#%02x%02x%02x", fade, fade, deep);
    }

    private static String fmt(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "n/a";
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
