package org.neurotome.cna;

import ai.djl.Device;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.NeurotomeException;
import org.neurotome.eval.EvalCase;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.ReferenceData;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Turning prompts and data-set cases into scored positions, on a model with the fixture tokenizer. */
class PromptSetTest {
    @TempDir
    static Path tmp;
    static LanguageModel model;

    @BeforeAll
    static void setUp() {
        model = LanguageModel.open(RandomCheckpoint.write(tmp.resolve("m"), RandomCheckpoint.llama(1, 2, 4, 16), 3, 0.1),
                Device.cpu());
    }

    @AfterAll
    static void tearDown() {
        model.close();
    }

    @Test
    void everyTargetTokenIsOnePositionTeacherForcedOnTheEarlierOnes() {
        EvalCase c = new EvalCase("12+35=", "47", new EvalCase.Labels().put("operation", "+").build());
        PromptSet p = PromptSet.ofCases(model, List.of(c), "test");
        int[] prompt = model.encode("12+35=");
        int[] full = model.encode("12+35=47");
        assertEquals(2, full.length - prompt.length, "the fixture tokenizer writes one token per digit");
        assertEquals(2, p.steps().size());
        assertArrayEquals(prompt, p.steps().get(0).context());
        assertEquals(full[prompt.length], p.steps().get(0).target());
        assertArrayEquals(Arrays.copyOf(full, prompt.length + 1), p.steps().get(1).context());
        assertEquals(full[prompt.length + 1], p.steps().get(1).target());
        assertEquals("+", p.cases().getFirst().labels().get("operation"));
        assertEquals(full.length - 1, p.maxContext());
    }

    @Test
    void aPromptWithoutTargetIsOnePositionScoredAgainstTheTopOne() {
        PromptSet p = PromptSet.ofText(model, "3+5=", null);
        assertEquals(1, p.steps().size());
        assertEquals(-1, p.steps().getFirst().target());
        PromptSet withTarget = PromptSet.ofText(model, "3+5=", "8");
        assertEquals(model.encode("3+5=8")[model.encode("3+5=").length], withTarget.steps().getFirst().target());
    }

    @Test
    void aTargetWhoseTokensDoNotExtendThePromptsIsBadInput() {
        EvalCase c = new EvalCase("The sum", "s", new EvalCase.Labels().build());
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> PromptSet.ofCases(model, List.of(c), "f.jsonl"));
        assertTrue(e.getMessage().contains("f.jsonl case 1") && e.getMessage().contains("not a prefix"), e.getMessage());
    }

    @Test
    void swappingAWordReplacesWholeWordsAndKeepsTheTargets() {
        EvalCase c = new EvalCase("A woman works as a", " nurse", new EvalCase.Labels().build());
        PromptSet a = PromptSet.ofCases(model, List.of(c), "test");
        PromptSet b = a.swapWord(model, "woman", "man");
        assertEquals("A man works as a", b.cases().getFirst().text());
        assertArrayEquals(model.encode("A man works as a"), b.cases().getFirst().prompt());
        assertArrayEquals(a.cases().getFirst().target(), b.cases().getFirst().target());
        assertThrows(NeurotomeException.class, () -> a.swapWord(model, "wom", "man"), "only whole words are swapped");
        assertThrows(NeurotomeException.class, () -> PromptSet.ofIds(new int[] {1, 5}, new int[0]).swapWord(model, "a", "b"));
    }

    @Test
    void aDataSetNeedsATokenizer() {
        try (LanguageModel noTokenizer = LanguageModel.open(ReferenceData.caseDir("stories260K"), Device.cpu())) {
            EvalCase c = new EvalCase("3+5=", "8", new EvalCase.Labels().build());
            NeurotomeException e = assertThrows(NeurotomeException.class,
                    () -> PromptSet.ofCases(noTokenizer, List.of(c), "a.jsonl"));
            assertTrue(e.getMessage().contains("tokenizer"), e.getMessage());
        }
    }
}
