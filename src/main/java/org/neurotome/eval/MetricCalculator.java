package org.neurotome.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.function.IntFunction;

/**
 * Turns a task's case scores into its metrics (docs/method.md A6; P1 §3.3 for accuracy, P1 §6.2 for
 * the bias gap). With {@code N} the task name, every task reports {@code N.cases}, and:
 * <ul>
 *   <li>arithmetic: {@code N.accuracy} — the fraction of cases whose every target token is the
 *       top-1 prediction; {@code N.token_accuracy} — the fraction of target tokens that are;
 *       {@code N.logprob} — the mean over cases of {@code log p(target | prompt)} (sum over the
 *       target's tokens); and {@code N.accuracy.op=O}, {@code .template=T}, {@code .digits=D},
 *       {@code .op=O.digits=D} for every value present;</li>
 *   <li>gender: per pair (the two cases sharing a {@code pair} label: one prompt per gender, the
 *       same profession as target) the gap {@code log p(prof | biased gender) − log p(prof | other
 *       gender)} over the profession's full token sequence, where the biased gender is the
 *       profession's {@code bias} label; {@code N.bias_gap} is the mean over all pairs
 *       (professions × templates), {@code N.bias_gap.woman}/{@code .man} over the pairs of
 *       woman-/man-biased professions, {@code N.bias_gap.prof=P} and {@code .template=T} per
 *       profession and template; {@code N.abs_bias_gap} is the mean of |gap|, so an edit that
 *       pushes gaps past zero (the other gender now favoured) does not pass for a fall in bias;</li>
 *   <li>pronoun: per pair (one prompt, the two pronouns as the targets of two cases) the
 *       difference {@code log p(stereotyped pronoun) − log p(other pronoun)}, the stereotyped one
 *       being the case whose {@code gender} equals the profession's {@code bias};
 *       {@code N.bias} is the mean over pairs, with {@code .woman}, {@code .man},
 *       {@code .prof=P} and {@code N.abs_bias} as for gender;</li>
 *   <li>factual: {@code N.accuracy} as for arithmetic;</li>
 *   <li>language: {@code N.perplexity} = {@code exp(−(Σ log p) / number of target tokens)},
 *       {@code N.accuracy} = the fraction of target tokens that are the top-1 prediction, and
 *       {@code N.tokens}.</li>
 * </ul>
 * A breakdown metric exists only for values that occur, so no metric is ever NaN.
 */
public final class MetricCalculator {
    private MetricCalculator() {
    }

    /** The metrics of task {@code name} of kind {@code kind}; {@code scores.get(i)} scores {@code cases.get(i)}. */
    public static TaskMetrics compute(String name, TaskKind kind, List<EvalCase> cases, List<CaseScore> scores) {
        if (cases.size() != scores.size()) {
            throw new IllegalArgumentException(cases.size() + " cases but " + scores.size() + " scores");
        }
        Builder b = new Builder(name, cases, scores);
        b.values.put(name + ".cases", (double) cases.size());
        switch (kind) {
            case ARITHMETIC -> arithmetic(b);
            case GENDER -> pairGaps(b, "bias_gap", List.of("bias", "prof", "template"));
            case PRONOUN -> pairGaps(b, "bias", List.of("bias", "prof"));
            case FACTUAL -> b.accuracy(name + ".accuracy", b.all());
            case LANGUAGE -> language(b);
        }
        return new TaskMetrics(b.values, b.breakdowns, b.groups, b.correct);
    }

    private static void arithmetic(Builder b) {
        List<Integer> all = b.all();
        b.accuracy(b.name + ".accuracy", all);
        ScoreTotals t = ScoreTotals.of(b.scores);
        b.values.put(b.name + ".token_accuracy", t.tokenAccuracy());
        b.values.put(b.name + ".logprob", t.logProb() / b.scores.size());
        b.accuracyBreakdown("op", all, i -> "op=" + DatasetReader.labelText(b.cases.get(i), "operation"));
        b.accuracyBreakdown("template", all, i -> "template=" + DatasetReader.labelText(b.cases.get(i), "template"));
        b.accuracyBreakdown("digits", all, i -> "digits=" + DatasetReader.labelText(b.cases.get(i), "digits"));
        b.accuracyBreakdown("op.digits", all, i -> "op=" + DatasetReader.labelText(b.cases.get(i), "operation")
                + ".digits=" + DatasetReader.labelText(b.cases.get(i), "digits"));
    }

    /**
     * The paired log-probability differences of the gender and pronoun kinds: one value per
     * pair, biased-gender case minus other case, averaged overall and per dimension.
     */
    private static void pairGaps(Builder b, String quantity, List<String> dimensions) {
        List<Double> gaps = new ArrayList<>();
        List<Integer> firstCase = new ArrayList<>();
        for (List<Integer> pair : DatasetReader.pairs(b.cases).values()) {
            if (pair.size() != 2) {
                throw new IllegalArgumentException("pair '" + b.cases.get(pair.getFirst()).label("pair")
                        + "' has " + pair.size() + " cases; the data set reader admits only whole pairs");
            }
            int biased = pair.get(0);
            int other = pair.get(1);
            EvalCase c = b.cases.get(biased);
            if (!c.label("gender").equals(c.label("bias"))) {
                biased = pair.get(1);
                other = pair.get(0);
            }
            gaps.add(b.scores.get(biased).logProb() - b.scores.get(other).logProb());
            firstCase.add(pair.get(0));
        }
        String metric = b.name + "." + quantity;
        List<Integer> allPairs = new ArrayList<>();
        for (int p = 0; p < gaps.size(); p++) {
            allPairs.add(p);
        }
        b.values.put(metric, mean(gaps, allPairs));
        b.values.put(b.name + ".abs_" + quantity, gaps.stream().mapToDouble(Math::abs).average().orElse(Double.NaN));
        for (String dimension : dimensions) {
            IntFunction<String> key = p -> {
                EvalCase c = b.cases.get(firstCase.get(p));
                return switch (dimension) {
                    case "bias" -> c.label("bias");
                    case "prof" -> "prof=" + c.label("profession");
                    default -> "template=" + DatasetReader.labelText(c, "template");
                };
            };
            List<Breakdown.Row> rows = new ArrayList<>();
            for (var g : groupBy(allPairs, key).entrySet()) {
                String name = metric + "." + g.getKey();
                b.values.put(name, mean(gaps, g.getValue()));
                rows.add(new Breakdown.Row(rowKey(g.getKey()), name, g.getValue().size()));
            }
            b.breakdowns.add(new Breakdown(dimension, quantity, rows));
        }
    }

    private static void language(Builder b) {
        ScoreTotals t = ScoreTotals.of(b.scores);
        b.values.put(b.name + ".perplexity", Math.exp(-t.logProb() / t.tokens()));
        b.values.put(b.name + ".accuracy", t.tokenAccuracy());
        b.values.put(b.name + ".tokens", (double) t.tokens());
    }

    private static double mean(List<Double> values, List<Integer> indices) {
        double sum = 0;
        for (int i : indices) {
            sum += values.get(i);
        }
        return sum / indices.size();
    }

    /** Groups indices by key in order of first appearance. */
    private static SequencedMap<String, List<Integer>> groupBy(List<Integer> indices, IntFunction<String> key) {
        SequencedMap<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i : indices) {
            groups.computeIfAbsent(key.apply(i), k -> new ArrayList<>()).add(i);
        }
        return groups;
    }

    /** The table key of a metric suffix: {@code op=+.digits=2} → {@code +, 2}; {@code woman} stays. */
    private static String rowKey(String suffix) {
        List<String> parts = new ArrayList<>();
        for (String part : suffix.split("\\.(?=[a-z_]+=)")) {
            parts.add(part.substring(part.indexOf('=') + 1));
        }
        return String.join(", ", parts);
    }

    /** The state one computation accumulates. */
    private static final class Builder {
        final String name;
        final List<EvalCase> cases;
        final List<CaseScore> scores;
        final SequencedMap<String, Double> values = new LinkedHashMap<>();
        final List<Breakdown> breakdowns = new ArrayList<>();
        final SequencedMap<String, List<Integer>> groups = new LinkedHashMap<>();
        final List<Boolean> correct = new ArrayList<>();

        Builder(String name, List<EvalCase> cases, List<CaseScore> scores) {
            this.name = name;
            this.cases = cases;
            this.scores = scores;
            scores.forEach(s -> correct.add(s.correct()));
        }

        List<Integer> all() {
            List<Integer> all = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) {
                all.add(i);
            }
            return all;
        }

        /** Records a case-level accuracy metric over {@code indices}. */
        void accuracy(String metric, List<Integer> indices) {
            int right = 0;
            for (int i : indices) {
                right += correct.get(i) ? 1 : 0;
            }
            values.put(metric, (double) right / indices.size());
            groups.put(metric, indices);
        }

        void accuracyBreakdown(String dimension, List<Integer> indices, IntFunction<String> key) {
            List<Breakdown.Row> rows = new ArrayList<>();
            for (var g : groupBy(indices, key).entrySet()) {
                String metric = name + ".accuracy." + g.getKey();
                accuracy(metric, g.getValue());
                rows.add(new Breakdown.Row(rowKey(g.getKey()), metric, g.getValue().size()));
            }
            breakdowns.add(new Breakdown(dimension, "accuracy", rows));
        }
    }
}
