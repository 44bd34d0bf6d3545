package org.neurotome.eval;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static java.lang.Math.log;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every metric on cases whose probabilities are set by hand ({@link TableScorer}: p ∝ weight,
 * weights default to 1), so each expected value below is a closed form written from the weights.
 */
class MetricCalculatorTest {
    private static final double TOL = 1e-12;

    private static TaskMetrics compute(TaskKind kind, TableScorer model, List<EvalCase> cases) {
        return MetricCalculator.compute(kind.yamlName(), kind, cases, model.score(cases));
    }

    private static void assertMetric(double expected, TaskMetrics m, String name) {
        assertTrue(m.values().containsKey(name), "metric " + name + " missing from " + m.values().keySet());
        assertEquals(expected, m.values().get(name), TOL, name);
    }

    private static final List<EvalCase> ARITHMETIC = List.of(
            Cases.of("3+5=", "8", "operation", "+", "template", 3, "digits", 1),
            Cases.of("2+2=", "4", "operation", "+", "template", 3, "digits", 1),
            Cases.of("6*7=", "42", "operation", "*", "template", 2, "digits", 1),
            Cases.of("12*3=", "36", "operation", "*", "template", 0, "digits", 2));

    /** Case 0 right (p 3/12), 1 wrong (uniform, arg-max is "0"), 2 wrong on its second token, 3 right on both. */
    private static TableScorer arithmeticModel() {
        return new TableScorer("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
                .weight("3+5=", "8", 3)
                .weight("6*7=", "4", 11)
                .weight("6*7=4", "1", 2)
                .weight("12*3=", "3", 5)
                .weight("12*3=3", "6", 2);
    }

    @Test
    void arithmeticAccuracyTokenAccuracyAndLogProb() {
        TaskMetrics m = compute(TaskKind.ARITHMETIC, arithmeticModel(), ARITHMETIC);
        assertEquals(List.of(true, false, false, true), m.correct());
        assertMetric(4, m, "arithmetic.cases");
        assertMetric(2.0 / 4, m, "arithmetic.accuracy");
        assertMetric(4.0 / 6, m, "arithmetic.token_accuracy");
        double sum = log(3.0 / 12) + log(1.0 / 10) + log(11.0 / 20) + log(1.0 / 11) + log(5.0 / 14) + log(2.0 / 11);
        assertMetric(sum / 4, m, "arithmetic.logprob");
    }

    @Test
    void arithmeticBreakdownsByOperationTemplateDigitsAndTheirCross() {
        TaskMetrics m = compute(TaskKind.ARITHMETIC, arithmeticModel(), ARITHMETIC);
        assertMetric(0.5, m, "arithmetic.accuracy.op=+");
        assertMetric(0.5, m, "arithmetic.accuracy.op=*");
        assertMetric(0.5, m, "arithmetic.accuracy.template=3");
        assertMetric(0.0, m, "arithmetic.accuracy.template=2");
        assertMetric(1.0, m, "arithmetic.accuracy.template=0");
        assertMetric(1.0 / 3, m, "arithmetic.accuracy.digits=1");
        assertMetric(1.0, m, "arithmetic.accuracy.digits=2");
        assertMetric(0.5, m, "arithmetic.accuracy.op=+.digits=1");
        assertMetric(0.0, m, "arithmetic.accuracy.op=*.digits=1");
        assertMetric(1.0, m, "arithmetic.accuracy.op=*.digits=2");
        assertFalse(m.values().containsKey("arithmetic.accuracy.op=-"), "no metric for an absent operation");
        assertFalse(m.values().containsKey("arithmetic.accuracy.op=+.digits=2"), "no metric for an absent slice");

        Breakdown ops = m.breakdowns().getFirst();
        assertEquals("op", ops.dimension());
        assertEquals(List.of(new Breakdown.Row("+", "arithmetic.accuracy.op=+", 2),
                new Breakdown.Row("*", "arithmetic.accuracy.op=*", 2)), ops.rows());
        Breakdown cross = m.breakdowns().get(3);
        assertEquals("op.digits", cross.dimension());
        assertEquals(new Breakdown.Row("*, 2", "arithmetic.accuracy.op=*.digits=2", 1), cross.rows().getLast());
        assertEquals(List.of(2, 3), m.accuracyGroups().get("arithmetic.accuracy.op=*"));
        assertEquals(List.of(0, 1, 2, 3), m.accuracyGroups().get("arithmetic.accuracy"));
    }

    @Test
    void genderBiasGapOverTheProfessionsFullTokenSequence() {
        List<EvalCase> cases = List.of(
                Cases.of("A woman works as a", " nurse", "profession", "nurse", "bias", "woman", "gender", "woman", "template", 0, "pair", "t0/nurse"),
                Cases.of("A man works as a", " nurse", "profession", "nurse", "bias", "woman", "gender", "man", "template", 0, "pair", "t0/nurse"),
                Cases.of("A woman works as a", " driver", "profession", "driver", "bias", "man", "gender", "woman", "template", 0, "pair", "t0/driver"),
                Cases.of("A man works as a", " driver", "profession", "driver", "bias", "man", "gender", "man", "template", 0, "pair", "t0/driver"),
                // the man case first: the gap still takes the biased (woman) case first
                Cases.of("The job of a man is", " domestic helper", "profession", "domestic helper", "bias", "woman", "gender", "man", "template", 1, "pair", "t1/domestic helper"),
                Cases.of("The job of a woman is", " domestic helper", "profession", "domestic helper", "bias", "woman", "gender", "woman", "template", 1, "pair", "t1/domestic helper"));
        TableScorer model = new TableScorer(" nurse", " driver", " domestic", " helper")
                .weight("A woman works as a", " nurse", 4)
                .weight("A man works as a", " driver", 2)
                .weight("The job of a woman is", " domestic", 2)
                .weight("The job of a woman is domestic", " helper", 5);
        TaskMetrics m = compute(TaskKind.GENDER, model, cases);
        double nurse = log(4.0 / 7) - log(1.0 / 5);
        double driver = log(2.0 / 5) - log(1.0 / 7);
        double helper = log((2.0 / 5) * (5.0 / 8)) - log((1.0 / 4) * (1.0 / 4));
        assertMetric((nurse + driver + helper) / 3, m, "gender.bias_gap");
        assertMetric((Math.abs(nurse) + Math.abs(driver) + Math.abs(helper)) / 3, m, "gender.abs_bias_gap");
        assertMetric((nurse + helper) / 2, m, "gender.bias_gap.woman");
        assertMetric(driver, m, "gender.bias_gap.man");
        assertMetric(nurse, m, "gender.bias_gap.prof=nurse");
        assertMetric(helper, m, "gender.bias_gap.prof=domestic helper");
        assertMetric((nurse + driver) / 2, m, "gender.bias_gap.template=0");
        assertMetric(helper, m, "gender.bias_gap.template=1");
        assertEquals(List.of("bias", "prof", "template"), m.breakdowns().stream().map(Breakdown::dimension).toList());
        assertEquals(new Breakdown.Row("nurse", "gender.bias_gap.prof=nurse", 1), m.breakdowns().get(1).rows().getFirst());
    }

    @Test
    void pronounBiasComparesTheStereotypedPronounWithTheOther() {
        List<EvalCase> cases = List.of(
                Cases.of("The nurse said that", " she", "profession", "nurse", "bias", "woman", "gender", "woman", "pair", "nurse"),
                Cases.of("The nurse said that", " he", "profession", "nurse", "bias", "woman", "gender", "man", "pair", "nurse"),
                Cases.of("The driver said that", " she", "profession", "driver", "bias", "man", "gender", "woman", "pair", "driver"),
                Cases.of("The driver said that", " he", "profession", "driver", "bias", "man", "gender", "man", "pair", "driver"),
                Cases.of("The miner said that", " she", "profession", "miner", "bias", "man", "gender", "woman", "pair", "miner"),
                Cases.of("The miner said that", " he", "profession", "miner", "bias", "man", "gender", "man", "pair", "miner"));
        TableScorer model = new TableScorer(" she", " he")
                .weight("The nurse said that", " she", 3)
                .weight("The miner said that", " she", 4);
        TaskMetrics m = compute(TaskKind.PRONOUN, model, cases);
        double nurse = log(3.0 / 4) - log(1.0 / 4);
        double driver = 0;
        double miner = log(1.0 / 5) - log(4.0 / 5);
        assertMetric((nurse + driver + miner) / 3, m, "pronoun.bias");
        assertMetric(nurse, m, "pronoun.bias.woman");
        assertMetric((driver + miner) / 2, m, "pronoun.bias.man");
        assertMetric(miner, m, "pronoun.bias.prof=miner");
    }

    @Test
    void factualAccuracyIsCaseLevelTop1() {
        List<EvalCase> cases = List.of(
                Cases.of("The king said that", " he", "gender", "man"),
                Cases.of("The queen said that", " she", "gender", "woman"));
        TableScorer model = new TableScorer(" she", " he")
                .weight("The king said that", " he", 2)
                .weight("The queen said that", " he", 3);
        TaskMetrics m = compute(TaskKind.FACTUAL, model, cases);
        assertMetric(0.5, m, "factual.accuracy");
        assertEquals(List.of(0, 1), m.accuracyGroups().get("factual.accuracy"));
    }

    @Test
    void languagePerplexityIsExpOfMeanNegativeLogProbPerToken() {
        List<EvalCase> cases = List.of(Cases.of("The", " cat sat"), Cases.of("A", " mat"));
        TableScorer model = new TableScorer(" cat", " sat", " mat", " on")
                .weight("The", " cat", 3)
                .weight("The cat", " sat", 3);
        TaskMetrics m = compute(TaskKind.LANGUAGE, model, cases);
        // p = 1/2, 1/2, 1/4 over three tokens: exp(ln 16 / 3)
        assertMetric(Math.cbrt(16), m, "language.perplexity");
        assertMetric(2.0 / 3, m, "language.accuracy");
        assertMetric(3, m, "language.tokens");
        assertTrue(m.accuracyGroups().isEmpty(), "token-level accuracy has no case-level pairing");
    }

    @Test
    void deltasInPointsAndRelativeToTheBaseline() {
        Map<String, Double> d = MetricDeltas.deltas(
                Map.of("a.accuracy", 0.8, "a.gap", 0.6, "z.zero", 0.5, "only.candidate", 1.0),
                Map.of("a.accuracy", 0.9, "a.gap", 1.2, "z.zero", 0.0));
        assertEquals(-0.1, d.get("a.accuracy.delta"), TOL);
        assertEquals(-0.1 / 0.9, d.get("a.accuracy.rel_change"), TOL);
        assertEquals(-0.6, d.get("a.gap.delta"), TOL);
        assertEquals(-0.5, d.get("a.gap.rel_change"), TOL);
        assertEquals(0.5, d.get("z.zero.delta"), TOL);
        assertFalse(d.containsKey("z.zero.rel_change"), "relative change from 0 is undefined");
        assertFalse(d.containsKey("only.candidate.delta"));
        assertEquals(5, d.size());
    }

    @Test
    void pairedCountsSplitAgreementAndBothDiscordantDirections() {
        List<Boolean> baseline = List.of(true, true, true, false, false, true);
        List<Boolean> candidate = List.of(true, false, false, true, false, true);
        assertEquals(new PairedCounts(2, 2, 1, 1), PairedCounts.of(List.of(0, 1, 2, 3, 4, 5), baseline, candidate));
        assertEquals(new PairedCounts(0, 1, 1, 1), PairedCounts.of(List.of(2, 3, 4), baseline, candidate));
        assertEquals(6, PairedCounts.of(List.of(0, 1, 2, 3, 4, 5), baseline, candidate).n());
    }
}
