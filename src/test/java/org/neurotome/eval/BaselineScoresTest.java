package org.neurotome.eval;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Recorded baseline scores read back to the very doubles written (the shortest decimal that
 * names a double reads back to it), and replay answers each case by its prompt and target in
 * whatever batches it is asked, refusing a case it never recorded.
 */
class BaselineScoresTest {
    static final CaseScore A = new CaseScore(List.of(new TokenScore(7, -0.1 - 0.2, 7),
            new TokenScore(12, Math.nextDown(-1.0 / 3), 3)));
    static final CaseScore B = new CaseScore(List.of(new TokenScore(40000, -Double.MIN_VALUE, 40000)));
    static final CaseScore C = new CaseScore(List.of(new TokenScore(1, -7.450580596923828e-9, 2)));
    static final BaselineScores SCORES = new BaselineScores(List.of(
            new BaselineScores.Scored("A woman works as a", " nurse", A),
            new BaselineScores.Scored("A man works as a", " nurse", B),
            new BaselineScores.Scored("2+2=", "4", C)));

    @Test
    void theJsonReadsBackToTheSameDoubles() {
        BaselineScores read = BaselineScores.fromJson(SCORES.toJson());
        assertEquals(SCORES, read);
        assertEquals(-0.1 - 0.2, read.cases().getFirst().score().tokens().getFirst().logProb(), 0.0);
        assertEquals(Math.nextDown(-1.0 / 3), read.cases().getFirst().score().tokens().get(1).logProb(), 0.0);
    }

    @Test
    void replayAnswersByPromptAndTargetInAnyBatch() {
        CaseScorer scorer = BaselineScores.fromJson(SCORES.toJson()).scorer();
        assertEquals(List.of(C, A), scorer.score(List.of(c("2+2=", "4"), c("A woman works as a", " nurse"))));
        assertEquals(List.of(B), scorer.score(List.of(c("A man works as a", " nurse"))));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> scorer.score(List.of(c("A man works as a", " doctor"))));
        assertEquals("the recorded baseline has no score for case 'A man works as a' → ' doctor'", e.getMessage());
    }

    private static EvalCase c(String prompt, String target) {
        return new EvalCase(prompt, target, new LinkedHashMap<>());
    }
}
