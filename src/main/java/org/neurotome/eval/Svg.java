package org.neurotome.eval;

import java.util.Locale;

/**
 * The drawing primitives of the reports' inline SVG charts ({@link SvgBarChart},
 * {@link SvgScatterChart}): the root element with its title, lines, rectangles and text, and
 * round axis ticks. Every coordinate is written with two decimals and every text escaped, so a
 * chart is the same bytes for the same data.
 */
final class Svg {
    private Svg() {
    }

    /** An {@code <svg>} element of {@code width} × {@code height} with {@code title} as its title and heading. */
    static StringBuilder open(String title, int width, int height) {
        StringBuilder out = new StringBuilder();
        out.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" width=\"").append(width)
                .append("\" height=\"").append(height).append("\" viewBox=\"0 0 ").append(width).append(' ').append(height)
                .append("\" aria-label=\"").append(Markup.escape(title)).append("\">\n");
        out.append("<title>").append(Markup.escape(title)).append("</title>\n");
        text(out, 8, 18, "start", 14, "#1a202c", title);
        return out;
    }

    static String close(StringBuilder out) {
        return out.append("</svg>\n").toString();
    }

    /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
    static double niceStep(double raw) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * magnitude >= raw) {
                return m * magnitude;
            }
        }
        return 10 * magnitude;
    }

    static void line(StringBuilder out, double x1, double y1, double x2, double y2, String color) {
        out.append("<line x1=\"").append(Markup.coord(x1)).append("\" y1=\"").append(Markup.coord(y1))
                .append("\" x2=\"").append(Markup.coord(x2)).append("\" y2=\"").append(Markup.coord(y2))
                .append("\" stroke=\"").append(color).append("\" stroke-width=\"1\"/>\n");
    }

    static void rect(StringBuilder out, double x, double y, double w, double h, String color, String tooltip) {
        out.append("<rect x=\"").append(Markup.coord(x)).append("\" y=\"").append(Markup.coord(y))
                .append("\" width=\"").append(Markup.coord(Math.max(w, 0))).append("\" height=\"")
                .append(Markup.coord(Math.max(h, 0))).append("\" fill=\"").append(color).append("\"><title>")
                .append(Markup.escape(tooltip)).append("</title></rect>\n");
    }

    static void text(StringBuilder out, double x, double y, String anchor, int size, String color, String s) {
        out.append("<text x=\"").append(Markup.coord(x)).append("\" y=\"").append(Markup.coord(y))
                .append("\" text-anchor=\"").append(anchor).append("\" font-size=\"").append(size)
                .append("\" fill=\"").append(color).append("\">").append(Markup.escape(s)).append("</text>\n");
    }

    /** The tick values lo, lo + step, …, hi. */
    static double[] ticks(double lo, double hi, double step) {
        int n = (int) Math.round((hi - lo) / step);
        double[] ticks = new double[n + 1];
        for (int i = 0; i <= n; i++) {
            ticks[i] = lo + i * step;
        }
        return ticks;
    }

    /** A tick label with as many decimals as the step needs. */
    static String tick(double t, double step) {
        double rounded = Math.abs(t) < step / 1000 ? 0 : t;
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step)));
        return String.format(Locale.ROOT, "%." + decimals + "f", rounded);
    }
}
