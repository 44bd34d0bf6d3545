package org.neurotome.eval;

import org.neurotome.Sha256;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SequencedMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The strict JSONL reader: accepted input, one test per rejection, filters, limits and pair checks. */
class DatasetReaderTest {
    @TempDir
    Path dir;

    private static final String ADD = "{\"prompt\":\"1+2=\",\"target\":\"3\",\"labels\":{\"operation\":\"+\",\"template\":3,\"digits\":1}}";

    private TaskSpec arithmetic(String text) {
        return TaskSpec.of(TaskKind.ARITHMETIC, Cases.writeText(dir.resolve("arith.jsonl"), text));
    }

    private static String rejected(TaskSpec spec) {
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> DatasetReader.read(spec));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        return e.getMessage();
    }

    /** The message starts with file:line and contains every fragment. */
    private void assertRejectedAt(String text, int line, String... fragments) {
        String message = rejected(arithmetic(text));
        assertTrue(message.startsWith(dir.resolve("arith.jsonl") + ":" + line + ": "), "position: " + message);
        for (String f : fragments) {
            assertTrue(message.contains(f), "'" + f + "' in: " + message);
        }
    }

    @Test
    void readsCasesWithLineNumbersAndHashesTheFileBytes() throws Exception {
        String sub = "{\"prompt\":\"5-2=\",\"target\":\"3\",\"labels\":{\"kind\":\"arithmetic\",\"operation\":\"-\",\"template\":3,\"digits\":1,\"n1\":5}}";
        TaskSpec spec = arithmetic(ADD + "\n\n" + sub + "\r\n");
        TaskDataset d = DatasetReader.read(spec);
        assertEquals(2, d.cases().size());
        assertEquals(List.of(1, 3), d.lines());
        assertEquals("5-2=", d.cases().get(1).prompt());
        assertEquals(5, d.cases().get(1).intLabel("n1"));
        String expected = HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(spec.dataset())));
        assertEquals(expected, d.sha256());
        assertEquals(spec.dataset() + ":3", d.where(1));
    }

    @Test
    void sha256MatchesThePublishedTestVector() {
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                Sha256.hex("abc".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void rejectsMalformedLines() {
        assertRejectedAt(ADD + "\n{\"prompt\": \"1+1=\"", 2, "not valid JSON");
        assertRejectedAt(ADD + "\n[1, 2]", 2, "expected a JSON object");
        assertRejectedAt(ADD + " {}", 1, "not valid JSON");
        assertRejectedAt("{\"prompt\":\"a\",\"prompt\":\"b\",\"target\":\"3\",\"labels\":{}}", 1, "not valid JSON", "prompt");
        assertRejectedAt("{\"prompt\":\"1+2=\",\"target\":\"3\",\"answer\":\"3\",\"labels\":{}}", 1,
                "unknown field 'answer'", "allowed: prompt, target, labels");
        assertRejectedAt("{\"prompt\":3,\"target\":\"3\",\"labels\":{}}", 1, "field 'prompt' must be a string, was 3");
        assertRejectedAt("{\"prompt\":\"1+2=\",\"labels\":{}}", 1, "field 'target' must be a string, was missing");
        assertRejectedAt("{\"prompt\":\"1+2=\",\"target\":\"3\",\"labels\":[]}", 1, "field 'labels' must be an object");
        assertRejectedAt("{\"prompt\":\"1+2= \",\"target\":\"3\",\"labels\":{}}", 1, "prompt must be non-empty and not end in whitespace");
        assertRejectedAt("{\"prompt\":\"1+2=\",\"target\":\" \",\"labels\":{}}", 1, "target of '1+2=' must contain text");
    }

    @Test
    void rejectsLabelsOfTheWrongTypeOrValue() {
        assertRejectedAt("{\"prompt\":\"1+2=\",\"target\":\"3\",\"labels\":{\"operation\":\"+\",\"template\":3,\"digits\":1.5}}", 1,
                "label 'digits' is 1.5", "a string or a 32-bit integer");
        assertRejectedAt("{\"prompt\":\"1+2=\",\"target\":\"3\",\"labels\":{\"operation\":\"+\",\"template\":3,\"digits\":true}}", 1,
                "label 'digits' is true");
        assertRejectedAt(ADD + "\n{\"prompt\":\"1+2=\",\"target\":\"3\",\"labels\":{\"operation\":\"+\",\"template\":3}}", 2,
                "missing label 'digits'", "needs labels operation, template, digits");
        assertRejectedAt("{\"prompt\":\"1+2=\",\"target\":\"3\",\"labels\":{\"operation\":\"+\",\"template\":\"3\",\"digits\":1}}", 1,
                "label 'template' must be an integer, was \"3\"");
        assertRejectedAt("{\"prompt\":\"1x2=\",\"target\":\"2\",\"labels\":{\"operation\":\"x\",\"template\":3,\"digits\":1}}", 1,
                "label 'operation' is 'x'; allowed: +, -, *, /");
        assertRejectedAt("{\"prompt\":\"1+2=\",\"target\":\"3\",\"labels\":{\"kind\":\"occupation\",\"operation\":\"+\",\"template\":3,\"digits\":1}}", 1,
                "label 'kind' is 'occupation'", "kind arithmetic");
    }

    @Test
    void rejectsUnreadableEmptyAndNonUtf8Files() throws IOException {
        String missing = rejected(TaskSpec.of(TaskKind.ARITHMETIC, dir.resolve("absent.jsonl")));
        assertTrue(missing.contains("cannot read data set") && missing.contains("absent.jsonl"), missing);
        assertTrue(rejected(arithmetic("\n\n")).contains("holds no case"));
        Path latin1 = dir.resolve("latin1.jsonl");
        Files.write(latin1, new byte[] {'{', '"', (byte) 0xE9, '"', '}', '\n'});
        String message = rejected(TaskSpec.of(TaskKind.ARITHMETIC, latin1));
        assertTrue(message.startsWith(latin1 + ": not UTF-8"), message);
    }

    private static final List<EvalCase> MIXED = List.of(
            Cases.of("1+2=", "3", "operation", "+", "template", 3, "digits", 1),
            Cases.of("12+30=", "42", "operation", "+", "template", 3, "digits", 2),
            Cases.of("5-2=", "3", "operation", "-", "template", 3, "digits", 1),
            Cases.of("6*7=", "42", "operation", "*", "template", 3, "digits", 1),
            Cases.of("8-1=", "7", "operation", "-", "template", 3, "digits", 1));

    private TaskSpec mixed(SequencedMap<String, List<String>> filters, OptionalInt limit) {
        return new TaskSpec("arithmetic", TaskKind.ARITHMETIC, Cases.write(dir.resolve("mixed.jsonl"), MIXED), filters, limit);
    }

    private static SequencedMap<String, List<String>> filters(String label, String... values) {
        SequencedMap<String, List<String>> f = new LinkedHashMap<>();
        f.put(label, List.of(values));
        return f;
    }

    @Test
    void filtersKeepMatchingCasesAndIntegersMatchInDecimal() {
        SequencedMap<String, List<String>> f = filters("operation", "+", "-");
        f.put("digits", List.of("1"));
        TaskDataset d = DatasetReader.read(mixed(f, OptionalInt.empty()));
        assertEquals(List.of("1+2=", "5-2=", "8-1="), d.cases().stream().map(EvalCase::prompt).toList());
        assertEquals(List.of(1, 3, 5), d.lines());
    }

    @Test
    void limitKeepsTheFirstCasesAfterFiltering() {
        TaskDataset d = DatasetReader.read(mixed(filters("digits", "1"), OptionalInt.of(2)));
        assertEquals(List.of("1+2=", "5-2="), d.cases().stream().map(EvalCase::prompt).toList());
        TaskSpec tighter = mixed(new LinkedHashMap<>(), OptionalInt.of(4)).withLimit(10);
        assertEquals(OptionalInt.of(4), tighter.limit());
        assertEquals(OptionalInt.of(3), tighter.withLimit(3).limit());
    }

    @Test
    void rejectsFiltersThatMatchNothing() {
        String unknown = rejected(mixed(filters("op", "+"), OptionalInt.empty()));
        assertTrue(unknown.contains("filters on label 'op', which no case carries"), unknown);
        String value = rejected(mixed(filters("operation", "/"), OptionalInt.empty()));
        assertTrue(value.contains("operation=/, which no case has; values present: +, -, *"), value);
        SequencedMap<String, List<String>> f = filters("operation", "*");
        f.put("digits", List.of("2"));
        assertTrue(rejected(mixed(f, OptionalInt.empty())).contains("together match no case"));
    }

    private static EvalCase occupation(String gender, String profession, String bias, int template) {
        return Cases.of("A " + gender + " works as a", " " + profession, "kind", "occupation", "profession", profession,
                "bias", bias, "gender", gender, "template", template, "pair", "t" + template + "/" + profession);
    }

    private TaskSpec gender(List<EvalCase> cases, SequencedMap<String, List<String>> filters, OptionalInt limit) {
        return new TaskSpec("gender", TaskKind.GENDER, Cases.write(dir.resolve("gender.jsonl"), cases), filters, limit);
    }

    @Test
    void pairedLimitKeepsWholePairs() {
        List<EvalCase> cases = List.of(
                occupation("woman", "nurse", "woman", 0), occupation("man", "nurse", "woman", 0),
                occupation("woman", "driver", "man", 0), occupation("man", "driver", "man", 0));
        assertEquals(2, DatasetReader.read(gender(cases, new LinkedHashMap<>(), OptionalInt.of(3))).cases().size());
        assertEquals(4, DatasetReader.read(gender(cases, new LinkedHashMap<>(), OptionalInt.of(4))).cases().size());
        assertTrue(rejected(gender(cases, new LinkedHashMap<>(), OptionalInt.of(1))).contains("keeps no whole pair"));
    }

    @Test
    void rejectsBrokenPairs() {
        List<EvalCase> cases = List.of(
                occupation("woman", "nurse", "woman", 0), occupation("man", "nurse", "woman", 0),
                occupation("woman", "driver", "man", 0), occupation("man", "driver", "man", 0));
        String halved = rejected(gender(cases, filters("gender", "woman"), OptionalInt.empty()));
        assertTrue(halved.contains("pair 't0/nurse' has 1 case(s) (lines 1)") && halved.contains("must keep both"), halved);

        String twice = rejected(gender(List.of(occupation("woman", "nurse", "woman", 0), occupation("woman", "nurse", "woman", 0)),
                new LinkedHashMap<>(), OptionalInt.empty()));
        assertTrue(twice.endsWith(":2: pair 't0/nurse' (lines 1, 2) has gender woman twice; a pair is one woman case and one man case"), twice);

        EvalCase otherBias = Cases.of("A man works as a", " nurse", "profession", "nurse", "bias", "man", "gender", "man",
                "template", 0, "pair", "t0/nurse");
        String bias = rejected(gender(List.of(occupation("woman", "nurse", "woman", 0), otherBias), new LinkedHashMap<>(), OptionalInt.empty()));
        assertTrue(bias.contains("has bias 'woman' and 'man'; both cases of a pair must agree"), bias);

        EvalCase otherTarget = Cases.of("A man works as a", " nurses", "profession", "nurse", "bias", "woman", "gender", "man",
                "template", 0, "pair", "t0/nurse");
        String target = rejected(gender(List.of(occupation("woman", "nurse", "woman", 0), otherTarget), new LinkedHashMap<>(), OptionalInt.empty()));
        assertTrue(target.contains("has targets ' nurse' and ' nurses'"), target);

        TaskSpec pronoun = new TaskSpec("pronoun", TaskKind.PRONOUN, Cases.write(dir.resolve("pronoun.jsonl"), List.of(
                Cases.of("The nurse said that", " she", "profession", "nurse", "bias", "woman", "gender", "woman", "pair", "nurse"),
                Cases.of("The nurse says that", " he", "profession", "nurse", "bias", "woman", "gender", "man", "pair", "nurse"))),
                new LinkedHashMap<>(), OptionalInt.empty());
        String prompts = rejected(pronoun);
        assertTrue(prompts.contains("has prompts 'The nurse said that' and 'The nurse says that'"), prompts);
    }

    @Test
    void taskSpecValidation() {
        NeurotomeException name = assertThrows(NeurotomeException.class, () -> new TaskSpec("arith.metic", TaskKind.ARITHMETIC,
                dir.resolve("a.jsonl"), new LinkedHashMap<>(), OptionalInt.empty()));
        assertTrue(name.getMessage().contains("task id 'arith.metic' is not allowed"));
        NeurotomeException limit = assertThrows(NeurotomeException.class, () -> new TaskSpec("a", TaskKind.ARITHMETIC,
                dir.resolve("a.jsonl"), new LinkedHashMap<>(), OptionalInt.of(0)));
        assertTrue(limit.getMessage().contains("limit must be at least 1, got 0"));
        NeurotomeException empty = assertThrows(NeurotomeException.class, () -> new TaskSpec("a", TaskKind.ARITHMETIC,
                dir.resolve("a.jsonl"), filters("operation"), OptionalInt.empty()));
        assertTrue(empty.getMessage().contains("filter on label 'operation' lists no value"));
        TaskSpec fromSuite = TaskSpec.of("add", TaskKind.ARITHMETIC, dir.resolve("a.jsonl"),
                Map.of("operation", List.of("+")), 5);
        assertEquals(List.of("+"), fromSuite.filters().get("operation"));
        assertEquals(OptionalInt.of(5), fromSuite.limit());
        assertEquals(OptionalInt.empty(), TaskSpec.of("add", TaskKind.ARITHMETIC, dir.resolve("a.jsonl"), Map.of(), null).limit());
    }
}
