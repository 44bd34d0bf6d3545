package org.neurotome.eval;

import java.util.List;
import java.util.Locale;

/**
 * A grouped bar chart as inline SVG: one group per category, one bar per series (candidate,
 * baseline) side by side, a zero line, value labels and a legend. Up to
 * {@value #MAX_VERTICAL} categories are drawn as vertical bars, more as horizontal rows so long
 * labels (professions) stay readable. Values may be negative; a missing value draws no bar.
 */
final class SvgBarChart {
    static final int MAX_VERTICAL = 8;
    private static final int WIDTH = 520;
    private static final int TOP = 44;

    /** One bar per category; {@code values.get(i)} is null where the series has no value. */
    record Series(String name, String color, List<Double> values) {
    }

    private final String title;
    private final List<String> categories;
    private final List<Series> series;
    private final double lo;
    private final double hi;
    private final double step;

    /**
     * @param unitRange draw the value axis from 0 to 1 (accuracies); otherwise it spans the values
     *                  and 0, widened to round ticks
     */
    SvgBarChart(String title, List<String> categories, List<Series> series, boolean unitRange) {
        this.title = title;
        this.categories = List.copyOf(categories);
        this.series = List.copyOf(series);
        if (unitRange) {
            lo = 0;
            hi = 1;
            step = 0.2;
        } else {
            double min = 0;
            double max = 0;
            for (Series s : series) {
                for (Double v : s.values()) {
                    if (v != null) {
                        min = Math.min(min, v);
                        max = Math.max(max, v);
                    }
                }
            }
            double span = max - min > 0 ? max - min : 1;
            step = niceStep(span / 5);
            lo = Math.floor(min / step) * step;
            hi = Math.max(Math.ceil(max / step) * step, lo + step);
        }
    }

    /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
    private static double niceStep(double raw) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * magnitude >= raw) {
                return m * magnitude;
            }
        }
        return 10 * magnitude;
    }

    String svg() {
        return categories.size() <= MAX_VERTICAL ? vertical() : horizontal();
    }

    private String vertical() {
        int left = 56;
        int plotWidth = WIDTH - left - 16;
        int plotHeight = 180;
        int height = TOP + plotHeight + 40;
        StringBuilder out = open(height);
        double groupWidth = (double) plotWidth / categories.size();
        double barWidth = groupWidth * 0.8 / series.size();
        for (double t : ticks()) {
            double y = TOP + plotHeight * (hi - t) / (hi - lo);
            line(out, left, y, left + plotWidth, y, "#e2e8f0");
            text(out, left - 6, y + 4, "end", 11, "#4a5568", tick(t));
        }
        double y0 = TOP + plotHeight * (hi - 0) / (hi - lo);
        for (int c = 0; c < categories.size(); c++) {
            double gx = left + c * groupWidth + groupWidth * 0.1;
            for (int s = 0; s < series.size(); s++) {
                Double v = series.get(s).values().get(c);
                if (v == null) {
                    continue;
                }
                double y = TOP + plotHeight * (hi - v) / (hi - lo);
                double x = gx + s * barWidth;
                rect(out, x + 1, Math.min(y, y0), barWidth - 2, Math.abs(y0 - y), series.get(s).color(),
                        series.get(s).name() + " " + categories.get(c) + ": " + value(v));
                text(out, x + barWidth / 2, v >= 0 ? y - 3 : y + 11, "middle", 10, "#2d3748", value(v));
            }
            text(out, left + (c + 0.5) * groupWidth, TOP + plotHeight + 18, "middle", 12, "#1a202c", categories.get(c));
        }
        line(out, left, y0, left + plotWidth, y0, "#4a5568");
        return close(out);
    }

    private String horizontal() {
        int left = 170;
        int plotWidth = WIDTH - left - 56;
        int rowHeight = 6 + 11 * series.size();
        int plotHeight = rowHeight * categories.size();
        int height = TOP + plotHeight + 28;
        StringBuilder out = open(height);
        for (double t : ticks()) {
            double x = left + plotWidth * (t - lo) / (hi - lo);
            line(out, x, TOP, x, TOP + plotHeight, "#e2e8f0");
            text(out, x, TOP + plotHeight + 16, "middle", 11, "#4a5568", tick(t));
        }
        double x0 = left + plotWidth * (0 - lo) / (hi - lo);
        for (int c = 0; c < categories.size(); c++) {
            double gy = TOP + c * rowHeight + 3;
            text(out, left - 6, gy + rowHeight / 2.0 + 1, "end", 12, "#1a202c", categories.get(c));
            for (int s = 0; s < series.size(); s++) {
                Double v = series.get(s).values().get(c);
                if (v == null) {
                    continue;
                }
                double x = left + plotWidth * (v - lo) / (hi - lo);
                double y = gy + s * 11;
                rect(out, Math.min(x, x0), y, Math.abs(x - x0), 10, series.get(s).color(),
                        series.get(s).name() + " " + categories.get(c) + ": " + value(v));
                text(out, v >= 0 ? x + 3 : x - 3, y + 9, v >= 0 ? "start" : "end", 9, "#2d3748", value(v));
            }
        }
        line(out, x0, TOP, x0, TOP + plotHeight, "#4a5568");
        return close(out);
    }

    private StringBuilder open(int height) {
        StringBuilder out = new StringBuilder();
        out.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" width=\"").append(WIDTH)
                .append("\" height=\"").append(height).append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(height)
                .append("\" aria-label=\"").append(Markup.escape(title)).append("\">\n");
        out.append("<title>").append(Markup.escape(title)).append("</title>\n");
        text(out, 8, 18, "start", 14, "#1a202c", title);
        double x = 8;
        for (Series s : series) {
            rect(out, x, 26, 12, 12, s.color(), s.name());
            text(out, x + 16, 36, "start", 12, "#1a202c", s.name());
            x += 28 + 7.5 * s.name().length();
        }
        return out;
    }

    private static String close(StringBuilder out) {
        return out.append("</svg>\n").toString();
    }

    private static void line(StringBuilder out, double x1, double y1, double x2, double y2, String color) {
        out.append("<line x1=\"").append(Markup.coord(x1)).append("\" y1=\"").append(Markup.coord(y1))
                .append("\" x2=\"").append(Markup.coord(x2)).append("\" y2=\"").append(Markup.coord(y2))
                .append("\" stroke=\"").append(color).append("\" stroke-width=\"1\"/>\n");
    }

    private static void rect(StringBuilder out, double x, double y, double w, double h, String color, String tooltip) {
        out.append("<rect x=\"").append(Markup.coord(x)).append("\" y=\"").append(Markup.coord(y))
                .append("\" width=\"").append(Markup.coord(Math.max(w, 0))).append("\" height=\"")
                .append(Markup.coord(Math.max(h, 0))).append("\" fill=\"").append(color).append("\"><title>")
                .append(Markup.escape(tooltip)).append("</title></rect>\n");
    }

    private static void text(StringBuilder out, double x, double y, String anchor, int size, String color, String s) {
        out.append("<text x=\"").append(Markup.coord(x)).append("\" y=\"").append(Markup.coord(y))
                .append("\" text-anchor=\"").append(anchor).append("\" font-size=\"").append(size)
                .append("\" fill=\"").append(color).append("\">").append(Markup.escape(s)).append("</text>\n");
    }

    /** The tick values lo, lo + step, …, hi. */
    private double[] ticks() {
        int n = (int) Math.round((hi - lo) / step);
        double[] ticks = new double[n + 1];
        for (int i = 0; i <= n; i++) {
            ticks[i] = lo + i * step;
        }
        return ticks;
    }

    private static String value(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }

    private String tick(double t) {
        double rounded = Math.abs(t) < step / 1000 ? 0 : t;
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step)));
        return String.format(Locale.ROOT, "%." + decimals + "f", rounded);
    }
}
