package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.arch.Head;
import org.neurotome.arch.Neuron;
import org.neurotome.cna.Findings;
import org.neurotome.cna.RandomCheckpoint;
import org.neurotome.model.ReferenceData;
import org.w3c.dom.Document;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neurotome locate} end to end: on a reference case the findings it writes agree with
 * the reference numbers; on an untrained model with the fixture tokenizer it reads data sets
 * with label filters and runs the three CNA pairings; bad inputs exit with 2 and say why.
 */
class LocateCommandTest {
    private static final String STORIES = ReferenceData.caseDir("stories260K").toString();
    private static final String IDS = "1,403,407,261";

    @TempDir
    static Path models;
    static String llama;
    static String other;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() {
        llama = RandomCheckpoint.write(models.resolve("a"), RandomCheckpoint.llama(2, 4, 8, 48), 5, 0.3).toString();
        other = RandomCheckpoint.write(models.resolve("b"), RandomCheckpoint.llama(2, 4, 8, 48), 6, 0.3).toString();
    }

    record Run(int code, String out, String err) {
    }

    static Run locate(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        String[] all = new String[args.length + 1];
        all[0] = "locate";
        System.arraycopy(args, 0, all, 1, args.length);
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.execute(all);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void findingsOnAReferenceCaseAgreeWithTheReference() throws Exception {
        JsonNode expected = ReferenceData.expected("stories260K").path("prompts").get(1);
        Path scan = tmp.resolve("scan.json");
        Path svg = tmp.resolve("scan.svg");
        Run r = locate(STORIES, "--method", "head-scan", "--ids", IDS, "--top", "0", "--json", scan.toString(),
                "--svg", svg.toString(), "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("head scan of [1, 403, 407, 261]: target " + expected.path("target").asInt()), r.out());
        Findings f = Findings.read(scan);
        assertEquals(expected.path("target").asInt(), f.target());
        assertEquals(40, f.heads().size());
        float[] prob = ReferenceData.floats(expected.path("head_scan").path("prob"));
        int worst = argmax(prob, -1);
        assertEquals(new Head(worst / 8, worst % 8), f.heads().getFirst().head());
        assertEquals(expected.path("head_scan").path("base_prob").asDouble() - prob[worst], f.heads().getFirst().value(), 1e-4);
        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(svg.toFile());
        assertEquals(40, doc.getElementsByTagName("title").getLength(), "one titled cell per head");

        Path attribution = tmp.resolve("attribution.json");
        assertEquals(0, locate(STORIES, "--method", "attribution", "--ids", IDS, "--top", "3", "--json",
                attribution.toString()).code());
        Findings a = Findings.read(attribution);
        int best = argmax(ReferenceData.floats(expected.path("neuron_increase").path("increase")), 1);
        assertEquals(new Neuron(best / 172, best % 172), a.neurons().getFirst().neuron());
        int bestHead = argmax(ReferenceData.floats(expected.path("head_increase").path("increase")), 1);
        assertEquals(new Head(bestHead / 8, bestHead % 8), a.heads().getFirst().head());
        assertEquals(3, a.neurons().size());

        Path cna = tmp.resolve("cna.json");
        Run c = locate(STORIES, "--method", "cna", "--ids", IDS, "--ablate", "3.5", "--json", cna.toString());
        assertEquals(0, c.code(), c.err());
        Set<Neuron> expectedTop = new HashSet<>();
        expected.path("cna").path("top").forEach(n -> expectedTop.add(new Neuron(n.path("layer").asInt(), n.path("neuron").asInt())));
        Set<Neuron> got = new HashSet<>();
        Findings.read(cna).neurons().forEach(n -> got.add(n.neuron()));
        assertEquals(expectedTop, got);
        assertTrue(c.out().contains("B = heads 3.5 ablated"), c.out());
    }

    /** head-scan and CNA from the command line on each newer family find the reference's top head and neurons. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"gpt_neox_parallel", "qwen3_qk_norm", "gemma2_softcap_window",
            "phi3_fused", "olmo2", "gemma3_text"})
    void findingsOnEachNewerFamilyAgreeWithTheReference(String name) throws Exception {
        JsonNode expected = ReferenceData.expected(name).path("prompts").get(2);
        String model = ReferenceData.caseDir(name).toString();
        StringBuilder ids = new StringBuilder();
        expected.path("ids").forEach(i -> ids.append(ids.isEmpty() ? "" : ",").append(i.asInt()));
        int heads = ReferenceData.expected(name).path("dims").path("n_heads").asInt();
        Path scan = tmp.resolve(name + "-scan.json");
        Run r = locate(model, "--method", "head-scan", "--ids", ids.toString(), "--top", "1", "--json", scan.toString());
        assertEquals(0, r.code(), r.err());
        int worst = argmax(ReferenceData.floats(expected.path("head_scan").path("prob")), -1);
        assertEquals(new Head(worst / heads, worst % heads), Findings.read(scan).heads().getFirst().head());

        JsonNode ablate = expected.path("cna").path("ablate").get(0);
        Path cna = tmp.resolve(name + "-cna.json");
        Run c = locate(model, "--method", "cna", "--ids", ids.toString(), "--ablate",
                ablate.get(0).asInt() + "." + ablate.get(1).asInt(), "--json", cna.toString());
        assertEquals(0, c.code(), c.err());
        Set<Neuron> expectedTop = new HashSet<>();
        expected.path("cna").path("top").forEach(n -> expectedTop.add(new Neuron(n.path("layer").asInt(), n.path("neuron").asInt())));
        Set<Neuron> got = new HashSet<>();
        Findings.read(cna).neurons().forEach(n -> got.add(n.neuron()));
        assertEquals(expectedTop, got);
    }

    @Test
    void dataSetsWithLabelFiltersOnATokenizedModel() throws IOException {
        Path data = Path.of("eval/datasets/arithmetic.jsonl");
        Path scan = tmp.resolve("scan.json");
        Run r = locate(llama, "--method", "head-scan", "--dataset", data.toString(), "--where", "digits=1",
                "--where", "template=3", "--by", "operation", "--top", "5", "--json", scan.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode d = Findings.read(scan).document();
        assertEquals(152, d.path("cases").asInt(), "1D cases of template 3: 40 + 40 + 40 + 32");
        assertEquals(org.neurotome.Sha256.hex(data), d.path("input").path("sha256").asText());
        assertEquals("3", d.path("input").path("where").path("template").asText());
        List<String> ops = new ArrayList<>();
        d.path("base").path("by_label").path("operation").fieldNames().forEachRemaining(ops::add);
        assertEquals(List.of("+", "-", "*", "/"), ops);
        assertEquals("accuracy_drop", d.path("rank").path("heads").asText());
        assertTrue(r.out().contains("head scan over 152 cases"), r.out());

        Path attribution = tmp.resolve("attribution.json");
        assertEquals(0, locate(llama, "--method", "attribution", "--dataset", data.toString(), "--limit", "6",
                "--per-case", "--top", "2", "--json", attribution.toString()).code());
        JsonNode a = Findings.read(attribution).document();
        assertEquals(a.path("positions").asInt(), a.path("cases").size());
        assertEquals(2, a.path("cases").get(0).path("neurons").size());

        Path swap = tmp.resolve("swap.json");
        Run s = locate(llama, "--method", "cna", "--dataset", "eval/datasets/gender.jsonl", "--where", "gender=woman",
                "--limit", "4", "--swap", "woman=man", "--json", swap.toString());
        assertEquals(0, s.code(), s.err());
        assertEquals("contrast", Findings.read(swap).document().path("comparison").asText());

        Path against = tmp.resolve("against.json");
        Run g = locate(llama, "--method", "cna", "--prompt", "3+5=", "--target", "8", "--against", other, "--json",
                against.toString());
        assertEquals(0, g.code(), g.err());
        JsonNode ag = Findings.read(against).document();
        assertNotEquals(ag.path("model").path("fingerprint"), ag.path("against").path("fingerprint"));
        assertEquals("8", ag.path("target_tokens").get(0).asText());

        Run contrast = locate(llama, "--method", "cna", "--prompt", "3+5=", "--contrast", "3+6=", "--top", "3");
        assertEquals(0, contrast.code(), contrast.err());
        assertTrue(contrast.out().contains("the contrast prompt \"3+6=\""), contrast.out());
    }

    @Test
    @org.junit.jupiter.api.Timeout(120)
    void findingsOntoAPipeOrATerminalAreRefusedWithoutReadingThem() throws Exception {
        Path fifo = tmp.resolve("fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        for (Path target : List.of(fifo, Path.of("/proc/self/fd/1"))) {
            Run r = locate(STORIES, "--ids", IDS, "--method", "attribution", "--json", target.toString());
            assertEquals(4, r.code(), target + ": " + r.err());
            assertTrue(r.err().contains("exists and is not a regular file (a pipe, a device or a socket)"), r.err());
        }
        assertTrue(java.nio.file.Files.exists(fifo, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && !java.nio.file.Files.isRegularFile(fifo), "the pipe is left as it was");
    }

    @Test
    void badInputsExitWithTwoAndSayWhy() {
        String[][] cases = {
                {"--method grep", "allowed: head-scan, attribution, cna"},
                {"--method cna", "exactly one of --ablate"},
                {"--method cna --ablate 3.5 --swap a=b", "(got 2)"},
                {"--method attribution --ablate 3.5", "--method is attribution"},
                {"--method cna --ablate 9.1", "head 9.1 does not exist"},
                {"--method cna --contrast x", "use it with --prompt"},
                {"--method head-scan --limit 3", "select cases of a --dataset"},
                {"--method head-scan --top -1", "--top must be 0"},
                {"--method attribution --neuron-path fast", "allowed: value-projections, per-neuron"},
                {"--method cna --swap woman", "expected WORD=WORD2"},
                {"--method head-scan --by operation", "--by groups"},
                {"--method head-scan --target id:512", "outside the vocabulary of size 512"},
                {"--method attribution --target 9999", "outside the vocabulary of size 512"},
        };
        for (String[] c : cases) {
            List<String> args = new ArrayList<>(List.of(STORIES, "--ids", IDS));
            args.addAll(List.of(c[0].split(" ")));
            Run r = locate(args.toArray(String[]::new));
            assertEquals(2, r.code(), c[0] + ": " + r.err());
            assertTrue(r.err().contains(c[1]), c[0] + " → " + r.err());
        }
        Run noTokenizer = locate(STORIES, "--method", "head-scan", "--dataset", "eval/datasets/arithmetic.jsonl");
        assertEquals(2, noTokenizer.code());
        assertTrue(noTokenizer.err().contains("needs the model's tokenizer"), noTokenizer.err());
        Run noLabel = locate(llama, "--method", "head-scan", "--dataset", "eval/datasets/arithmetic.jsonl", "--where", "colour=red");
        assertEquals(2, noLabel.code());
        assertTrue(noLabel.err().contains("has the label 'colour'"), noLabel.err());
        Run noByLabel = locate(llama, "--method", "head-scan", "--dataset", "eval/datasets/arithmetic.jsonl", "--by",
                "nosuch");
        assertEquals(2, noByLabel.code());
        assertTrue(noByLabel.err().contains("--by nosuch: no case of eval/datasets/arithmetic.jsonl has the label"
                + " 'nosuch'; labels: digits, kind, n1, n2, operation, template"), noByLabel.err());
        Run datasetTarget = locate(llama, "--method", "head-scan", "--dataset", "eval/datasets/arithmetic.jsonl",
                "--target", "8");
        assertEquals(2, datasetTarget.code());
        assertTrue(datasetTarget.err().contains("each case gives its own target"), datasetTarget.err());
        Run twoInputs = locate(llama, "--method", "head-scan", "--prompt", "3+5=", "--ids", "1,2");
        assertEquals(2, twoInputs.code());
        assertTrue(twoInputs.err().contains("mutually exclusive"), twoInputs.err());
        Run missingWord = locate(llama, "--method", "cna", "--prompt", "3+5=", "--swap", "woman=man");
        assertEquals(2, missingWord.code());
        assertTrue(missingWord.err().contains("does not contain the word 'woman'"), missingWord.err());
    }

    /** Index of the largest (sign 1) or smallest (sign −1) value, the first on ties. */
    private static int argmax(float[] v, int sign) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (sign * v[i] > sign * v[best]) {
                best = i;
            }
        }
        return best;
    }

}
