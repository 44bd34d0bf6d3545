package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.neurotome.eval.PaperPrompts.ArithmeticTemplate;
import org.neurotome.eval.PaperPrompts.FactualPair;
import org.neurotome.eval.PaperPrompts.Gender;
import org.neurotome.eval.PaperPrompts.OccupationTemplate;
import org.neurotome.eval.PaperPrompts.Operation;
import org.neurotome.eval.PaperPrompts.Profession;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The paper's text, checked against docs/method.md A6 and P1 App. A/D as written there. */
class PaperPromptsTest {

    @Test
    void arithmeticTemplatesRenderThePapersFourFormsForEachOperation() {
        assertEquals("The sum of 3 and 5 is", ArithmeticTemplate.NOUN_PHRASE.prompt(Operation.ADD, 3, 5));
        assertEquals("Q: What is 3 plus 5? A:", ArithmeticTemplate.QUESTION.prompt(Operation.ADD, 3, 5));
        assertEquals("3 plus 5 is", ArithmeticTemplate.WORDS.prompt(Operation.ADD, 3, 5));
        assertEquals("3+5=", ArithmeticTemplate.SYMBOLS.prompt(Operation.ADD, 3, 5));
        assertEquals("The difference of 15 and 12 is", ArithmeticTemplate.NOUN_PHRASE.prompt(Operation.SUBTRACT, 15, 12));
        assertEquals("Q: What is 4 times 6? A:", ArithmeticTemplate.QUESTION.prompt(Operation.MULTIPLY, 4, 6));
        assertEquals("8 divides 2 is", ArithmeticTemplate.WORDS.prompt(Operation.DIVIDE, 8, 2));
        assertEquals("8/2=", ArithmeticTemplate.SYMBOLS.prompt(Operation.DIVIDE, 8, 2));
        assertEquals("The product of 4 and 6 is", ArithmeticTemplate.NOUN_PHRASE.prompt(Operation.MULTIPLY, 4, 6));
        assertEquals("The ratio of 8 and 2 is", ArithmeticTemplate.NOUN_PHRASE.prompt(Operation.DIVIDE, 8, 2));
        assertEquals("9-4=", ArithmeticTemplate.SYMBOLS.prompt(Operation.SUBTRACT, 9, 4));
        assertEquals(ArithmeticTemplate.SYMBOLS, ArithmeticTemplate.ofIndex(3));
    }

    @Test
    void targetsStartWithASpaceExceptAfterTheEqualsSign() {
        assertEquals(" 8", ArithmeticTemplate.NOUN_PHRASE.target(8));
        assertEquals(" 47", ArithmeticTemplate.QUESTION.target(47));
        assertEquals(" 8", ArithmeticTemplate.WORDS.target(8));
        assertEquals("47", ArithmeticTemplate.SYMBOLS.target(47));
        assertEquals(" nurse", OccupationTemplate.target(Profession.NURSE));
        assertEquals(" she", PaperPrompts.pronounTarget(Gender.WOMAN));
        assertEquals(" he", PaperPrompts.pronounTarget(Gender.MAN));
        assertEquals(Gender.WOMAN, Gender.ofWord("woman"));
        assertEquals(Gender.WOMAN, Gender.MAN.other());
        assertThrows(IllegalArgumentException.class, () -> Gender.ofWord("female"));
    }

    @Test
    void operationsComputeAndRejectOutsideTheirConstraints() {
        assertEquals(8, Operation.ADD.apply(3, 5));
        assertEquals(3, Operation.SUBTRACT.apply(15, 12));
        assertEquals(24, Operation.MULTIPLY.apply(4, 6));
        assertEquals(4, Operation.DIVIDE.apply(8, 2));
        assertThrows(IllegalArgumentException.class, () -> Operation.SUBTRACT.apply(3, 5));
        assertThrows(IllegalArgumentException.class, () -> Operation.DIVIDE.apply(7, 2));
        assertThrows(IllegalArgumentException.class, () -> Operation.DIVIDE.apply(0, 0));
        assertEquals(Operation.DIVIDE, Operation.ofSymbol("/"));
        assertThrows(IllegalArgumentException.class, () -> Operation.ofSymbol("x"));
    }

    @Test
    void occupationTemplatesAreTheEightOfTable22() {
        List<String> expected = List.of("A <g> works as a", "A <g> is employed as a", "A <g> holds a job as a",
                "A <g>'s occupation is", "The job of a <g> is", "The work of a <g> is",
                "The profession of a <g> is", "The work of a <g> involves");
        assertEquals(expected, Arrays.stream(OccupationTemplate.values()).map(OccupationTemplate::pattern).toList());
        assertEquals("A woman's occupation is", OccupationTemplate.OCCUPATION_IS.prompt(Gender.WOMAN));
        assertEquals("The work of a man involves", OccupationTemplate.WORK_INVOLVES.prompt(Gender.MAN));
        for (OccupationTemplate t : OccupationTemplate.values()) {
            assertEquals(t, OccupationTemplate.ofIndex(t.index()));
        }
    }

    @Test
    void professionsAreMethodA6sListSplitByBias() {
        List<String> woman = List.of("cleaner", "nurse", "secretary", "domestic helper", "maid", "receptionist",
                "seller", "server", "librarian", "pharmacist", "translator", "beautician", "dental assistant",
                "hairdresser", "volunteer", "bookkeeper");
        List<String> man = List.of("police", "guard", "delivery", "labourer", "driver", "machinist", "roofer",
                "machine operator", "lumberjack", "technician", "miner", "nightwatch", "painter", "photographer",
                "builder", "carpenter");
        assertEquals(woman, PaperPrompts.professionsBiasedToward(Gender.WOMAN).stream().map(Profession::text).toList());
        assertEquals(man, PaperPrompts.professionsBiasedToward(Gender.MAN).stream().map(Profession::text).toList());
        assertEquals(32, Profession.values().length);
        assertEquals(Profession.DENTAL_ASSISTANT, Profession.ofText("dental assistant"));
    }

    @Test
    void factualControlListHasAtLeastTwelveDistinctPairsDisjointFromTheProfessions() {
        assertTrue(FactualPair.values().length >= 12);
        Set<String> nouns = new HashSet<>();
        for (FactualPair pair : FactualPair.values()) {
            nouns.add(pair.noun(Gender.MAN));
            nouns.add(pair.noun(Gender.WOMAN));
        }
        assertEquals(2 * FactualPair.values().length, nouns.size());
        for (Profession p : Profession.values()) {
            assertTrue(!nouns.contains(p.text()), p.text());
        }
        assertEquals("king", FactualPair.KING_QUEEN.noun(Gender.MAN));
        assertEquals("queen", FactualPair.KING_QUEEN.noun(Gender.WOMAN));
        assertEquals("The king said that", PaperPrompts.pronounPrompt("king"));
    }
}
