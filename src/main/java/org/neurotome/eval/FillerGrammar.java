package org.neurotome.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Plain English sentences from a small grammar, with no gendered word and no number: the
 * general language the fixture models learn besides arithmetic and occupations, and the
 * held-out text of the language evaluation (docs/method.md A6 "Language"; docs/architecture.md "The fixture
 * world"). Four sentence forms, drawn with weights 5:2:1:2:
 * <pre>
 *   The farmer carried the basket near the market.   (subject, verb, object, preposition, place)
 *   The dog slept behind the station.                 (subject, intransitive verb, preposition, place)
 *   The lamp was broken.                              (object, adjective)
 *   The child saw a red ball.                         (subject, adjective, object)
 * </pre>
 * About one sentence in eight is held out ({@link #isHeldOut}): a fixed hash of its text
 * decides, so the fixture corpus never contains a sentence of the language set while every
 * word and most word pairs still occur in training.
 */
public final class FillerGrammar {
    static final List<String> SUBJECTS = List.of("farmer", "child", "student", "neighbour", "traveller", "visitor",
            "stranger", "dog", "cat", "bird", "horse", "team");
    static final List<String> VERBS = List.of("carried", "found", "bought", "opened", "dropped", "watched", "moved",
            "washed", "brought", "lost", "sold", "kept");
    static final List<String> OBJECTS = List.of("basket", "box", "book", "letter", "key", "lamp", "chair", "bottle",
            "coat", "ticket", "map", "bag", "cup", "blanket", "ball", "bucket");
    static final List<String> PREPOSITIONS = List.of("near", "behind", "beside", "inside", "outside");
    static final List<String> PLACES = List.of("market", "station", "garden", "river", "school", "bridge", "harbour",
            "kitchen", "park", "village", "house", "field");
    static final List<String> INTRANSITIVE_VERBS = List.of("slept", "waited", "sat", "stood", "rested", "walked",
            "played", "stayed");
    static final List<String> ADJECTIVES = List.of("heavy", "small", "big", "new", "red", "green", "dark", "clean",
            "broken", "warm");
    /** What a person said: the end of the pronoun and factual sentences of the fixture corpus. */
    static final List<String> CLAUSE_ENDINGS = List.of("was tired", "was busy", "was late", "felt happy",
            "would come back", "liked the work", "had finished", "needed help");

    private FillerGrammar() {
    }

    /**
     * A sentence split after its first two words: {@code head} ("The farmer") is the prompt of a
     * language case and {@code rest} (" carried the basket near the market.") its target.
     */
    public record Sentence(String head, String rest) {
        public String text() {
            return head + rest;
        }
    }

    /** Draws one sentence from the whole grammar. */
    public static Sentence sample(Random random) {
        int form = random.nextInt(10);
        if (form < 5) {
            return new Sentence("The " + pick(SUBJECTS, random), " " + pick(VERBS, random) + " the "
                    + pick(OBJECTS, random) + " " + pick(PREPOSITIONS, random) + " the " + pick(PLACES, random) + ".");
        } else if (form < 7) {
            return new Sentence("The " + pick(SUBJECTS, random), " " + pick(INTRANSITIVE_VERBS, random) + " "
                    + pick(PREPOSITIONS, random) + " the " + pick(PLACES, random) + ".");
        } else if (form < 8) {
            return new Sentence("The " + pick(OBJECTS, random), " was " + pick(ADJECTIVES, random) + ".");
        } else {
            return new Sentence("The " + pick(SUBJECTS, random), " saw a " + pick(ADJECTIVES, random) + " "
                    + pick(OBJECTS, random) + ".");
        }
    }

    /** Draws a sentence that is not held out (the fixture corpus). */
    public static Sentence sampleTraining(Random random) {
        Sentence s;
        do {
            s = sample(random);
        } while (isHeldOut(s.text()));
        return s;
    }

    /** Draws a held-out sentence (the language evaluation set). */
    public static Sentence sampleHeldOut(Random random) {
        Sentence s;
        do {
            s = sample(random);
        } while (!isHeldOut(s.text()));
        return s;
    }

    /** Whether a sentence belongs to the evaluation side: the top 3 bits of a Fibonacci hash of its text are 0. */
    public static boolean isHeldOut(String sentence) {
        return (sentence.hashCode() * 0x9E3779B9) >>> 29 == 0;
    }

    /** The end of what someone said, without the final period: {@code "was tired"}. */
    public static String clauseEnding(Random random) {
        return pick(CLAUSE_ENDINGS, random);
    }

    /** Every word and frame the grammar writes, for building a vocabulary. */
    public static List<String> lexicon() {
        List<String> texts = new ArrayList<>(List.of("The", "the", "was", "saw", "a", "."));
        for (List<String> words : List.of(SUBJECTS, VERBS, OBJECTS, PREPOSITIONS, PLACES, INTRANSITIVE_VERBS,
                ADJECTIVES, CLAUSE_ENDINGS)) {
            texts.addAll(words);
        }
        return texts;
    }

    private static String pick(List<String> words, Random random) {
        return words.get(random.nextInt(words.size()));
    }
}
