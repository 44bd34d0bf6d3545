package org.neurotome.eval;

import java.util.List;

/**
 * One metric of a task split by a label (or two): each row names the slice, the flat metric
 * name that holds its value (in the candidate's and the baseline's metrics alike), and how many
 * cases (for bias metrics: pairs) it averages.
 *
 * @param dimension the label(s) split on, as in the metric names: {@code op}, {@code template},
 *                  {@code digits}, {@code op.digits}, {@code bias}, {@code prof}
 * @param quantity  the metric split: {@code accuracy}, {@code bias_gap}, {@code bias}
 */
public record Breakdown(String dimension, String quantity, List<Row> rows) {

    public Breakdown {
        rows = List.copyOf(rows);
    }

    /** One slice: {@code key} is its label value(s) as shown in tables ({@code +}, {@code nurse}, {@code +, 2}). */
    public record Row(String key, String metric, int n) {
    }
}
