package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The scorer contract's target-token rule: the tail of tokens(prompt + target) after tokens(prompt). */
class CaseScorerTest {
    @Test
    void targetTokensAreTheTailAfterThePromptTokens() {
        EvalCase c = Cases.of("6*7=", "42");
        assertEquals(List.of(4, 2), Arrays.stream(CaseScorer.targetTokens(c, new int[] {6, 10, 7, 11},
                new int[] {6, 10, 7, 11, 4, 2})).boxed().toList());
        NeurotomeException merged = assertThrows(NeurotomeException.class,
                () -> CaseScorer.targetTokens(c, new int[] {6, 10, 7, 11}, new int[] {6, 10, 7, 12, 2}));
        assertEquals(ExitCode.BAD_INPUT, merged.exitCode());
        assertTrue(merged.getMessage().contains("are not a prefix"), merged.getMessage());
        NeurotomeException none = assertThrows(NeurotomeException.class,
                () -> CaseScorer.targetTokens(c, new int[] {6, 10}, new int[] {6, 10}));
        assertTrue(none.getMessage().contains("adds no token"));
        // the fake tokenizer merges " nur" + "se" into " nurse": the case cannot be scored
        NeurotomeException split = assertThrows(NeurotomeException.class,
                () -> new TableScorer(" nurse").score(List.of(Cases.of("The nur", "se"))));
        assertTrue(split.getMessage().contains("merges across the boundary"), split.getMessage());
    }
}
