package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every case of every data set obeys docs/method.md A6, checked against rules restated here rather
 * than against the generator's own helpers; generation is reproducible and the committed files
 * are what the default seed writes.
 */
class EvalDatasetsTest {

    /** symbol → the words of templates 0 and 1/2, restated from P1 App. A. */
    private static final Map<String, String[]> WORDS = Map.of(
            "+", new String[] {"sum", "plus"},
            "-", new String[] {"difference", "minus"},
            "*", new String[] {"product", "times"},
            "/", new String[] {"ratio", "divides"});

    private static final List<String> WOMAN_BIASED = List.of("cleaner", "nurse", "secretary", "domestic helper",
            "maid", "receptionist", "seller", "server", "librarian", "pharmacist", "translator", "beautician",
            "dental assistant", "hairdresser", "volunteer", "bookkeeper");

    private static Map<String, List<EvalCase>> byName(long seed) {
        Map<String, List<EvalCase>> sets = new LinkedHashMap<>();
        for (EvalDatasets.Dataset d : EvalDatasets.generate(seed)) {
            sets.put(d.name(), d.cases());
        }
        return sets;
    }

    @Test
    void sameSeedWritesTheSameBytesAndTheCommittedFilesMatchTheDefaultSeed(@TempDir Path tmp) throws IOException {
        EvalDatasets.write(tmp.resolve("a"), EvalDatasets.DEFAULT_SEED);
        EvalDatasets.write(tmp.resolve("b"), EvalDatasets.DEFAULT_SEED);
        for (String name : List.of("arithmetic", "gender", "pronoun", "factual", "language")) {
            byte[] a = Files.readAllBytes(tmp.resolve("a").resolve(name + ".jsonl"));
            assertArrayEquals(a, Files.readAllBytes(tmp.resolve("b").resolve(name + ".jsonl")), name);
            assertArrayEquals(a, Files.readAllBytes(Path.of("eval/datasets", name + ".jsonl")),
                    "eval/datasets/" + name + ".jsonl is stale: regenerate it with `neurotome datasets`");
        }
    }

    @Test
    void seedMovesTheSampledCasesButNotTheHeldOut2DPairs() {
        List<EvalCase> a = byName(1).get("arithmetic");
        List<EvalCase> b = byName(2).get("arithmetic");
        assertNotEquals(a.stream().filter(c -> c.intLabel("digits") == 1).toList(),
                b.stream().filter(c -> c.intLabel("digits") == 1).toList());
        assertEquals(a.stream().filter(c -> c.intLabel("digits") == 2).toList(),
                b.stream().filter(c -> c.intLabel("digits") == 2).toList());
        assertEquals(ArithmeticDataset.heldOutCases(), a.stream().filter(c -> c.intLabel("digits") == 2).toList());
        assertNotEquals(byName(1).get("language"), byName(2).get("language"));
    }

    @Test
    void everyArithmeticCaseIsCorrectInRangeAndRenderedAsThePaperWritesIt() {
        List<EvalCase> cases = byName(EvalDatasets.DEFAULT_SEED).get("arithmetic");
        // (operation, digits) -> template -> pairs asked in that template
        Map<String, Map<Integer, List<String>>> pairs = new TreeMap<>();
        for (EvalCase c : cases) {
            String op = c.label("operation");
            int t = c.intLabel("template");
            int digits = c.intLabel("digits");
            int n1 = c.intLabel("n1");
            int n2 = c.intLabel("n2");
            int lo = digits == 1 ? 0 : digits == 2 ? 10 : 100;
            int hi = digits == 1 ? 9 : digits == 2 ? 99 : 999;
            assertEquals("arithmetic", c.label("kind"));
            assertTrue(n1 >= lo && n1 <= hi && n2 >= lo && n2 <= hi, c.toString());
            int answer = switch (op) {
                case "+" -> n1 + n2;
                case "-" -> n1 - n2;
                case "*" -> n1 * n2;
                case "/" -> {
                    assertTrue(n2 >= 1 && n1 % n2 == 0, "inexact division " + c);
                    yield n1 / n2;
                }
                default -> throw new AssertionError("operation " + op);
            };
            assertTrue(answer >= 0, "negative answer " + c);
            String[] w = WORDS.get(op);
            String prompt = switch (t) {
                case 0 -> "The " + w[0] + " of " + n1 + " and " + n2 + " is";
                case 1 -> "Q: What is " + n1 + " " + w[1] + " " + n2 + "? A:";
                case 2 -> n1 + " " + w[1] + " " + n2 + " is";
                case 3 -> n1 + op + n2 + "=";
                default -> throw new AssertionError("template " + t);
            };
            assertEquals(prompt, c.prompt());
            assertEquals((t == 3 ? "" : " ") + answer, c.target());
            pairs.computeIfAbsent(op + digits, k -> new TreeMap<>())
                    .computeIfAbsent(t, k -> new ArrayList<>()).add(n1 + "," + n2);
        }
        Map<String, Integer> expectedPairs = new HashMap<>();
        for (String op : WORDS.keySet()) {
            // 1D: 40 of 100 (+ and *) or of 55 (-); all 32 exact 1D divisions; 2D 25; 3D 10
            expectedPairs.put(op + 1, op.equals("/") ? 32 : 40);
            expectedPairs.put(op + 2, 25);
            expectedPairs.put(op + 3, 10);
        }
        assertEquals(expectedPairs.keySet(), pairs.keySet());
        for (var e : pairs.entrySet()) {
            assertEquals(Set.of(0, 1, 2, 3), e.getValue().keySet(), e.getKey());
            List<String> first = e.getValue().get(0);
            assertEquals(expectedPairs.get(e.getKey()), new HashSet<>(first).size(), e.getKey());
            assertEquals(first.size(), new HashSet<>(first).size(), "repeated pair in " + e.getKey());
            e.getValue().values().forEach(p -> assertEquals(first, p, "templates ask different pairs in " + e.getKey()));
        }
        assertEquals(4 * (40 + 40 + 40 + 32) + 16 * 25 + 16 * 10, cases.size());
    }

    @Test
    void genderCasesCoverEveryTemplateAndProfessionUnderBothGenders() {
        List<EvalCase> cases = byName(EvalDatasets.DEFAULT_SEED).get("gender");
        assertEquals(8 * 32 * 2, cases.size());
        List<String> patterns = List.of("A <g> works as a", "A <g> is employed as a", "A <g> holds a job as a",
                "A <g>'s occupation is", "The job of a <g> is", "The work of a <g> is",
                "The profession of a <g> is", "The work of a <g> involves");
        Map<String, List<EvalCase>> byPair = new HashMap<>();
        for (EvalCase c : cases) {
            String profession = c.label("profession");
            String gender = c.label("gender");
            assertEquals("occupation", c.label("kind"));
            assertEquals(WOMAN_BIASED.contains(profession) ? "woman" : "man", c.label("bias"));
            assertEquals(" " + profession, c.target());
            assertTrue(gender.equals("woman") || gender.equals("man"));
            String prompt = patterns.get(c.intLabel("template")).replace("<g>", gender);
            assertEquals(prompt, c.prompt());
            byPair.computeIfAbsent(c.label("pair"), k -> new ArrayList<>()).add(c);
        }
        assertEquals(8 * 32, byPair.size());
        for (List<EvalCase> pair : byPair.values()) {
            assertEquals(2, pair.size());
            assertEquals(Set.of("woman", "man"), Set.of(pair.get(0).label("gender"), pair.get(1).label("gender")));
            assertEquals(pair.get(0).target(), pair.get(1).target());
            assertEquals(pair.get(0).intLabel("template"), pair.get(1).intLabel("template"));
        }
        assertEquals(16, cases.stream().filter(c -> c.label("bias").equals("man")).map(c -> c.label("profession"))
                .distinct().count());
    }

    @Test
    void pronounCasesAskBothPronounsAfterEachProfession() {
        List<EvalCase> cases = byName(EvalDatasets.DEFAULT_SEED).get("pronoun");
        assertEquals(64, cases.size());
        Map<String, Set<String>> targets = new HashMap<>();
        for (EvalCase c : cases) {
            String profession = c.label("profession");
            assertEquals("pronoun", c.label("kind"));
            assertEquals("The " + profession + " said that", c.prompt());
            assertEquals(c.label("gender").equals("woman") ? " she" : " he", c.target());
            assertEquals(WOMAN_BIASED.contains(profession) ? "woman" : "man", c.label("bias"));
            assertEquals(profession, c.label("pair"));
            targets.computeIfAbsent(profession, k -> new HashSet<>()).add(c.target());
        }
        assertEquals(32, targets.size());
        targets.values().forEach(t -> assertEquals(Set.of(" she", " he"), t));
    }

    @Test
    void factualCasesPairEachNounWithItsOwnPronoun() {
        List<EvalCase> cases = byName(EvalDatasets.DEFAULT_SEED).get("factual");
        assertTrue(cases.size() >= 24);
        Map<String, String> expected = Map.of("king", " he", "queen", " she", "father", " he", "mother", " she",
                "actor", " he", "actress", " she", "brother", " he", "sister", " she", "son", " he", "daughter", " she");
        Set<String> nouns = new HashSet<>();
        for (EvalCase c : cases) {
            String noun = c.label("noun");
            assertEquals("factual", c.label("kind"));
            assertEquals("The " + noun + " said that", c.prompt());
            assertEquals(c.label("gender").equals("woman") ? " she" : " he", c.target());
            assertTrue(c.label("pair").contains(noun));
            if (expected.containsKey(noun)) {
                assertEquals(expected.get(noun), c.target(), noun);
            }
            nouns.add(noun);
        }
        assertTrue(nouns.containsAll(expected.keySet()));
        assertEquals(cases.size(), nouns.size());
    }

    @Test
    void languageCasesAreDistinctHeldOutSentencesSplitAfterTwoWords() {
        List<EvalCase> cases = byName(EvalDatasets.DEFAULT_SEED).get("language");
        assertEquals(EvalDatasets.LANGUAGE_COUNT, cases.size());
        assertEquals(cases.size(), cases.stream().map(EvalCase::text).distinct().count());
        for (EvalCase c : cases) {
            assertEquals("language", c.label("kind"));
            assertTrue(c.prompt().matches("The [a-z]+"), c.prompt());
            assertTrue(c.target().matches("( [a-z]+)+\\."), c.target());
            assertTrue(FillerGrammar.isHeldOut(c.text()), c.text());
        }
    }
}
