package org.neurotome.eval;

import java.util.List;
import java.util.Locale;

/**
 * A scatter plot as inline SVG: one point per item (a sweep's variants), green where it passed
 * every gate and red where one failed, the chosen point ringed and labelled, with round ticks on
 * both axes and an optional dashed line at a bound on the x axis (the gate's threshold). Points
 * without both values are left out.
 */
public final class SvgScatterChart {
    private static final int WIDTH = 460;
    private static final int HEIGHT = 320;
    private static final int LEFT = 64;
    private static final int TOP = 44;
    private static final int PLOT_W = WIDTH - LEFT - 20;
    private static final int PLOT_H = HEIGHT - TOP - 48;
    private static final String PASS = "#137333";
    private static final String FAIL = "#c5221f";

    /**
     * One point.
     *
     * @param label  its name in the tooltip and, when chosen, beside it
     * @param x      the value on the x axis, or null
     * @param y      the value on the y axis, or null
     * @param passed whether it passed every gate
     * @param chosen whether it is the one to mark
     */
    public record Point(String label, Double x, Double y, boolean passed, boolean chosen) {
    }

    private SvgScatterChart() {
    }

    /**
     * @param xBound a bound to draw on the x axis, or null
     */
    public static String svg(String title, String xName, String yName, List<Point> points, Double xBound) {
        List<Point> drawn = points.stream().filter(p -> p.x() != null && p.y() != null
                && Double.isFinite(p.x()) && Double.isFinite(p.y())).toList();
        double[] xs = range(drawn.stream().mapToDouble(Point::x).toArray(), xBound);
        double[] ys = range(drawn.stream().mapToDouble(Point::y).toArray(), null);
        StringBuilder out = Svg.open(title, WIDTH, HEIGHT);
        for (double t : Svg.ticks(xs[0], xs[1], xs[2])) {
            double x = px(t, xs);
            Svg.line(out, x, TOP, x, TOP + PLOT_H, "#e2e8f0");
            Svg.text(out, x, TOP + PLOT_H + 16, "middle", 11, "#4a5568", Svg.tick(t, xs[2]));
        }
        for (double t : Svg.ticks(ys[0], ys[1], ys[2])) {
            double y = py(t, ys);
            Svg.line(out, LEFT, y, LEFT + PLOT_W, y, "#e2e8f0");
            Svg.text(out, LEFT - 6, y + 4, "end", 11, "#4a5568", Svg.tick(t, ys[2]));
        }
        Svg.line(out, LEFT, TOP + PLOT_H, LEFT + PLOT_W, TOP + PLOT_H, "#4a5568");
        Svg.line(out, LEFT, TOP, LEFT, TOP + PLOT_H, "#4a5568");
        if (xBound != null) {
            double x = px(xBound, xs);
            out.append("<line x1=\"").append(Markup.coord(x)).append("\" y1=\"").append(TOP).append("\" x2=\"")
                    .append(Markup.coord(x)).append("\" y2=\"").append(TOP + PLOT_H)
                    .append("\" stroke=\"#a0aec0\" stroke-width=\"1\" stroke-dasharray=\"4 3\"/>\n");
        }
        Svg.text(out, LEFT + PLOT_W / 2.0, HEIGHT - 10, "middle", 12, "#1a202c", xName);
        out.append("<text x=\"14\" y=\"").append(Markup.coord(TOP + PLOT_H / 2.0))
                .append("\" text-anchor=\"middle\" font-size=\"12\" fill=\"#1a202c\" transform=\"rotate(-90 14 ")
                .append(Markup.coord(TOP + PLOT_H / 2.0)).append(")\">").append(Markup.escape(yName)).append("</text>\n");
        for (Point p : drawn) {
            double x = px(p.x(), xs);
            double y = py(p.y(), ys);
            String color = p.passed() ? PASS : FAIL;
            out.append("<circle cx=\"").append(Markup.coord(x)).append("\" cy=\"").append(Markup.coord(y))
                    .append("\" r=\"5\" fill=\"").append(color).append("\"><title>")
                    .append(Markup.escape(p.label() + ": " + xName + " " + value(p.x()) + ", " + yName + " "
                            + value(p.y()) + (p.passed() ? ", passed" : ", failed a gate")))
                    .append("</title></circle>\n");
            if (p.chosen()) {
                out.append("<circle cx=\"").append(Markup.coord(x)).append("\" cy=\"").append(Markup.coord(y))
                        .append("\" r=\"10\" fill=\"none\" stroke=\"#1a202c\" stroke-width=\"2\"/>\n");
                Svg.text(out, x + 13, y - 8, "start", 12, "#1a202c", "best: " + p.label());
            }
        }
        return Svg.close(out);
    }

    /** {lo, hi, step}: the values (and the bound) widened to round ticks. */
    private static double[] range(double[] values, Double bound) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double v : values) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        if (bound != null) {
            min = Math.min(min, bound);
            max = Math.max(max, bound);
        }
        if (min > max) {
            min = 0;
            max = 1;
        }
        double span = max - min > 0 ? max - min : Math.max(Math.abs(max), 1) / 10;
        double step = Svg.niceStep(span / 4);
        double lo = Math.floor(min / step) * step;
        double hi = Math.max(Math.ceil(max / step) * step, lo + step);
        if (hi - max < step / 4) {
            hi += step;
        }
        return new double[] {lo, hi, step};
    }

    private static double px(double v, double[] xs) {
        return LEFT + PLOT_W * (v - xs[0]) / (xs[1] - xs[0]);
    }

    private static double py(double v, double[] ys) {
        return TOP + PLOT_H * (ys[1] - v) / (ys[1] - ys[0]);
    }

    private static String value(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }
}
