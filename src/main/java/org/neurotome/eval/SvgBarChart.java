package org.neurotome.eval;

import java.util.List;
import java.util.Locale;

/**
 * A grouped bar chart as inline SVG: one group per category, one bar per series (candidate,
 * baseline) side by side, a zero line, value labels and a legend. Up to
 * {@value #MAX_VERTICAL} categories are drawn as vertical bars, more as horizontal rows so long
 * labels (professions) stay readable. Values may be negative; a missing value draws no bar.
 */
public final class SvgBarChart {
    static final int MAX_VERTICAL = 8;
    private static final int WIDTH = 520;
    private static final int TOP = 44;

    /** One bar per category; {@code values.get(i)} is null where the series has no value. */
    public record Series(String name, String color, List<Double> values) {
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
    public SvgBarChart(String title, List<String> categories, List<Series> series, boolean unitRange) {
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
            step = Svg.niceStep(span / 5);
            lo = Math.floor(min / step) * step;
            hi = Math.max(Math.ceil(max / step) * step, lo + step);
        }
    }

    public String svg() {
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
            Svg.line(out, left, y, left + plotWidth, y, "#e2e8f0");
            Svg.text(out, left - 6, y + 4, "end", 11, "#4a5568", tick(t));
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
                Svg.rect(out, x + 1, Math.min(y, y0), barWidth - 2, Math.abs(y0 - y), series.get(s).color(),
                        series.get(s).name() + " " + categories.get(c) + ": " + value(v));
                Svg.text(out, x + barWidth / 2, v >= 0 ? y - 3 : y + 11, "middle", 10, "#2d3748", value(v));
            }
            Svg.text(out, left + (c + 0.5) * groupWidth, TOP + plotHeight + 18, "middle", 12, "#1a202c", categories.get(c));
        }
        Svg.line(out, left, y0, left + plotWidth, y0, "#4a5568");
        return Svg.close(out);
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
            Svg.line(out, x, TOP, x, TOP + plotHeight, "#e2e8f0");
            Svg.text(out, x, TOP + plotHeight + 16, "middle", 11, "#4a5568", tick(t));
        }
        double x0 = left + plotWidth * (0 - lo) / (hi - lo);
        for (int c = 0; c < categories.size(); c++) {
            double gy = TOP + c * rowHeight + 3;
            Svg.text(out, left - 6, gy + rowHeight / 2.0 + 1, "end", 12, "#1a202c", categories.get(c));
            for (int s = 0; s < series.size(); s++) {
                Double v = series.get(s).values().get(c);
                if (v == null) {
                    continue;
                }
                double x = left + plotWidth * (v - lo) / (hi - lo);
                double y = gy + s * 11;
                Svg.rect(out, Math.min(x, x0), y, Math.abs(x - x0), 10, series.get(s).color(),
                        series.get(s).name() + " " + categories.get(c) + ": " + value(v));
                Svg.text(out, v >= 0 ? x + 3 : x - 3, y + 9, v >= 0 ? "start" : "end", 9, "#2d3748", value(v));
            }
        }
        Svg.line(out, x0, TOP, x0, TOP + plotHeight, "#4a5568");
        return Svg.close(out);
    }

    private StringBuilder open(int height) {
        StringBuilder out = Svg.open(title, WIDTH, height);
        double x = 8;
        for (Series s : series) {
            Svg.rect(out, x, 26, 12, 12, s.color(), s.name());
            Svg.text(out, x + 16, 36, "start", 12, "#1a202c", s.name());
            x += 28 + 7.5 * s.name().length();
        }
        return out;
    }

    /** The tick values lo, lo + step, …, hi. */
    private double[] ticks() {
        return Svg.ticks(lo, hi, step);
    }

    private static String value(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }

    private String tick(double t) {
        return Svg.tick(t, step);
    }
}
