package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.neurotome.yaml.SchemaViolation;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GateTest {

    @Test
    void parsesEachForm() {
        assertEquals(new Gate.Threshold("arithmetic.accuracy", Gate.Change.VALUE, Gate.Relation.AT_LEAST, 0.9),
                Gate.parse("arithmetic.accuracy >= 0.9"));
        assertEquals(new Gate.Threshold("arithmetic.accuracy", Gate.Change.DELTA, Gate.Relation.AT_LEAST, -0.01),
                Gate.parse("arithmetic.accuracy.delta>=-0.01"));
        assertEquals(new Gate.Threshold("gender.bias_gap", Gate.Change.REL_CHANGE, Gate.Relation.AT_MOST, -0.3),
                Gate.parse("  gender.bias_gap.rel_change <= -0.30 "));
        assertEquals(new Gate.Threshold("language.perplexity", Gate.Change.VALUE, Gate.Relation.BELOW, 20),
                Gate.parse("language.perplexity < 2e1"));
        assertEquals(new Gate.NotWorse("arithmetic.accuracy", 0.05), Gate.parse("arithmetic.accuracy not_worse"));
        assertEquals(new Gate.NotWorse("factual.accuracy", 0.01), Gate.parse("factual.accuracy not_worse p = 0.01"));
    }

    @Test
    void breakdownsMayHoldEqualsSignsAndSpaces() {
        Gate g = Gate.parse("arithmetic.accuracy.op=+.delta > -0.05");
        assertEquals(new Gate.Threshold("arithmetic.accuracy.op=+", Gate.Change.DELTA, Gate.Relation.ABOVE, -0.05), g);
        assertEquals("arithmetic", g.task());
        assertEquals("gender.bias_gap.profession=domestic helper",
                Gate.parse("gender.bias_gap.profession=domestic helper <= 1.5").metric());
    }

    @Test
    void printsCanonically() {
        assertEquals("gender.bias_gap.rel_change <= -0.3", Gate.parse("gender.bias_gap.rel_change<=-0.30").toString());
        assertEquals("arithmetic.accuracy not_worse p=0.05", Gate.parse("arithmetic.accuracy not_worse").toString());
        assertEquals("language.perplexity < 20", Gate.parse("language.perplexity < 2e1").toString());
    }

    @Test
    void malformedGatesSayWhatIsAllowed() {
        assertEquals("invalid gate comparison '=='; got 'arithmetic.accuracy == 0.9'; allowed: >=, <=, >, <",
                violation("arithmetic.accuracy == 0.9"));
        assertEquals("invalid gate comparison '='; got 'arithmetic.accuracy = 0.9'; allowed: >=, <=, >, <",
                violation("arithmetic.accuracy = 0.9"));
        assertEquals("invalid gate metric 'accuracy'; got 'accuracy >= 0.9'; allowed: <task>.<metric>, "
                + "e.g. arithmetic.accuracy or arithmetic.accuracy.op=+", violation("accuracy >= 0.9"));
        assertEquals("invalid gate bound 'high'; got 'arithmetic.accuracy >= high'; allowed: a finite number",
                violation("arithmetic.accuracy >= high"));
        assertEquals("invalid gate; got 'arithmetic.accuracy'; allowed: " + Gate.SYNTAX,
                violation("arithmetic.accuracy"));
        assertEquals("invalid gate significance level; got 'arithmetic.accuracy not_worse p=2'; "
                + "allowed: p=<a number between 0 and 1>, e.g. p=0.05", violation("arithmetic.accuracy not_worse p=2"));
        assertTrue(violation("arithmetic.accuracy.delta not_worse").startsWith("invalid gate: not_worse compares"));
    }

    private static String violation(String expression) {
        return assertThrows(SchemaViolation.class, () -> Gate.parse(expression)).getMessage();
    }

    @Test
    void absoluteBoundsIncludeOrExcludeTheBoundAsWritten() {
        Map<String, Double> m = Map.of("arithmetic.accuracy", 0.9);
        assertTrue(Gate.parse("arithmetic.accuracy >= 0.9").evaluate(m, Map.of()).passed());
        assertFalse(Gate.parse("arithmetic.accuracy > 0.9").evaluate(m, Map.of()).passed());
        assertTrue(Gate.parse("arithmetic.accuracy <= 0.9").evaluate(m, Map.of()).passed());
        assertFalse(Gate.parse("arithmetic.accuracy < 0.9").evaluate(m, Map.of()).passed());
        GateResult r = Gate.parse("arithmetic.accuracy >= 0.95").evaluate(m, Map.of());
        assertEquals(new GateResult("arithmetic.accuracy >= 0.95", "arithmetic.accuracy", ">=", 0.95, 0.9, false, null),
                r);
    }

    @Test
    void deltaAndRelativeChangeAreAgainstTheBaseline() {
        Map<String, Double> candidate = Map.of("arithmetic.accuracy", 0.70, "gender.bias_gap", 0.81,
                "arithmetic.logprob", -1.0);
        Map<String, Double> baseline = Map.of("arithmetic.accuracy", 0.75, "gender.bias_gap", 1.26,
                "arithmetic.logprob", -2.0);
        GateResult delta = Gate.parse("arithmetic.accuracy.delta >= -0.01").evaluate(candidate, baseline);
        assertEquals(0.70 - 0.75, delta.value(), 1e-15);
        assertFalse(delta.passed());
        // P1 Table 13: 1.26 -> 0.81 is a 35.7 % reduction
        GateResult rel = Gate.parse("gender.bias_gap.rel_change <= -0.30").evaluate(candidate, baseline);
        assertEquals((0.81 - 1.26) / 1.26, rel.value(), 1e-15);
        assertTrue(rel.passed());
        // relative to |baseline|: a log-prob rising from -2 to -1 is +50 %
        GateResult up = Gate.parse("arithmetic.logprob.rel_change >= 0.5").evaluate(candidate, baseline);
        assertEquals(0.5, up.value(), 1e-15);
        assertTrue(up.passed());
    }

    @Test
    void missingOrUndefinedValuesFailWithAReason() {
        Gate g = Gate.parse("arithmetic.accuracy.delta >= -0.01");
        GateResult noMetric = g.evaluate(Map.of(), Map.of("arithmetic.accuracy", 0.7));
        assertFalse(noMetric.passed());
        assertNull(noMetric.value());
        assertEquals("metric 'arithmetic.accuracy' is missing from the candidate's results", noMetric.reason());

        GateResult noBaseline = g.evaluate(Map.of("arithmetic.accuracy", 0.7), null, null);
        assertFalse(noBaseline.passed());
        assertEquals("there is no baseline run (a delta gate needs one: --baseline)", noBaseline.reason());

        GateResult zero = Gate.parse("gender.bias_gap.rel_change <= -0.3")
                .evaluate(Map.of("gender.bias_gap", 0.1), Map.of("gender.bias_gap", 0.0));
        assertFalse(zero.passed());
        assertEquals("the baseline's 'gender.bias_gap' is 0; a relative change is undefined", zero.reason());

        GateResult nan = Gate.parse("language.perplexity <= 30").evaluate(Map.of("language.perplexity", Double.NaN),
                Map.of());
        assertFalse(nan.passed());
        assertEquals("the value of 'language.perplexity' is NaN", nan.reason());
    }

    @Test
    void notWorseFailsOnlyOnASignificantLoss() {
        Gate g = Gate.parse("arithmetic.accuracy not_worse p=0.05");
        // 30 lost, 10 gained: χ² = 19² / 40, p = 0.00266
        GateResult lost = g.evaluate(Map.of(), Map.of(), Map.of("arithmetic.accuracy", new DiscordantPairs(30, 10)));
        assertFalse(lost.passed());
        assertEquals(0.002663119259138554, lost.value(), 1e-8);
        assertEquals("b=30 (baseline right, candidate wrong), c=10 (baseline wrong, candidate right), "
                + "McNemar chi-square p=0.002663: significantly worse", lost.reason());
        // the same imbalance the other way is an improvement, never a failure
        assertTrue(g.evaluate(Map.of(), Map.of(), Map.of("arithmetic.accuracy", new DiscordantPairs(10, 30))).passed());
        // 6 lost, 2 gained: exact p = 74/256, not significant
        GateResult few = g.evaluate(Map.of(), Map.of(), Map.of("arithmetic.accuracy", new DiscordantPairs(6, 2)));
        assertTrue(few.passed());
        assertEquals(74.0 / 256, few.value(), 1e-15);
    }

    @Test
    void notWorseWithoutPairedResultsFails() {
        GateResult r = Gate.parse("arithmetic.accuracy not_worse").evaluate(Map.of("arithmetic.accuracy", 0.9), Map.of());
        assertFalse(r.passed());
        assertEquals("not_worse", r.relation());
        assertEquals("there is no baseline run (a not_worse gate needs one: --baseline)", r.reason());
        assertInstanceOf(Gate.NotWorse.class, Gate.parse("arithmetic.accuracy not_worse"));
    }

    @Test
    void aGateWithABaselineRunDoesNotAskForOne() {
        Map<String, Double> base = Map.of("gender.bias_gap", 0.5);
        GateResult notPaired = Gate.parse("gender.bias_gap not_worse").evaluate(Map.of("gender.bias_gap", 0.4), base,
                Map.of("factual.accuracy", new DiscordantPairs(1, 1)));
        assertFalse(notPaired.passed());
        assertEquals("'gender.bias_gap' has no paired per-case results: not_worse compares case-level accuracies;"
                + " paired here: factual.accuracy", notPaired.reason());
        GateResult missing = Gate.parse("arithmetic.accuracy.delta >= 0").evaluate(Map.of("arithmetic.accuracy", 0.9),
                base);
        assertEquals("metric 'arithmetic.accuracy' is missing from the baseline's results", missing.reason());
        assertEquals("there is no baseline run (a delta gate needs one: --baseline)",
                Gate.parse("arithmetic.accuracy.delta >= 0").evaluate(Map.of("arithmetic.accuracy", 0.9), Map.of()).reason());
    }
}
