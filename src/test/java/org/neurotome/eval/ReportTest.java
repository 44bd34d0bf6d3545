package org.neurotome.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.Tool;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.LongSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** report.json (content, determinism), report.html (well-formed, self-contained, escaped) and the text summary. */
class ReportTest {
    private static final String XHTML = "http://www.w3.org/1999/xhtml";
    private static final String SVG = "http://www.w3.org/2000/svg";

    @TempDir
    Path dir;

    /** A clock that advances 1 ms per reading, so timings are non-zero and the same in every run. */
    private static LongSupplier steppingClock() {
        long[] now = {0};
        return () -> now[0] += 1_000_000;
    }

    private static String read(Path p) throws Exception {
        return Files.readString(p, StandardCharsets.UTF_8);
    }

    @Test
    void twoRunsWriteIdenticalReportsAndOnlyTimingsDependOnTheClock() throws Exception {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Files.createDirectories(a.resolve("data"));
        Path data = a.resolve("data");
        ReportWriter.write(SampleRun.run(data, steppingClock()), a.resolve("out"));
        ReportWriter.write(SampleRun.run(data, steppingClock()), b.resolve("out"));
        assertEquals(read(a.resolve("out/report.json")), read(b.resolve("out/report.json")));
        assertEquals(read(a.resolve("out/report.html")), read(b.resolve("out/report.html")));

        ReportWriter.write(SampleRun.run(data, System::nanoTime), b.resolve("real"));
        ObjectNode stepped = (ObjectNode) Json.MAPPER.readTree(read(a.resolve("out/report.json")));
        ObjectNode real = (ObjectNode) Json.MAPPER.readTree(read(b.resolve("real/report.json")));
        assertFalse(stepped.get("timings").equals(real.get("timings")), "timings come from the clock");
        stepped.remove("timings");
        real.remove("timings");
        assertEquals(stepped, real);
    }

    @Test
    void reportJsonHoldsMetricsGatesHashesAndCases() throws Exception {
        Files.createDirectories(dir.resolve("data"));
        EvalReport r = SampleRun.run(dir.resolve("data"), steppingClock());
        List<Path> written = ReportWriter.write(r, dir.resolve("out"));
        assertEquals(List.of(dir.resolve("out/report.json"), dir.resolve("out/report.html")), written);
        String text = read(dir.resolve("out/report.json"));
        assertTrue(text.endsWith("}\n"));
        JsonNode root = Json.MAPPER.readTree(text);

        List<String> keys = new ArrayList<>();
        root.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("baseline", "baseline_metrics", "breakdowns", "cases", "comparison", "gates", "metrics",
                "model", "paired", "passed", "seed", "tasks", "timings", "tool"), keys, "sorted top-level keys");
        assertEquals(Tool.version(), root.at("/tool/version").asText());
        assertEquals(2024, root.get("seed").asLong());
        assertEquals("checkpoints/debiased", root.at("/model/name").asText());
        assertEquals("b".repeat(64), root.at("/baseline/sha256").asText());
        assertFalse(root.get("passed").asBoolean());

        assertEquals(r.metrics().size(), root.get("metrics").size());
        r.metrics().forEach((name, v) -> assertEquals(v, root.get("metrics").get(name).doubleValue(), 0.0, name));
        r.baselineMetrics().forEach((name, v) -> assertEquals(v, root.get("baseline_metrics").get(name).doubleValue(), 0.0, name));
        assertTrue(root.get("metrics").has("arithmetic.accuracy.op=/"));
        assertTrue(root.get("comparison").has("gender.bias_gap.rel_change"));
        JsonNode paired = root.at("/paired/arithmetic.accuracy");
        PairedCounts p = r.paired().get("arithmetic.accuracy");
        assertEquals(p.b(), paired.get("b").asInt());
        assertEquals(p.c(), paired.get("c").asInt());
        assertEquals(r.metrics().get("arithmetic.cases").intValue(), paired.get("n").asInt());

        JsonNode gates = root.get("gates");
        assertEquals(SampleRun.GATES.size(), gates.size());
        for (int i = 0; i < gates.size(); i++) {
            GateResult g = r.gates().get(i);
            assertEquals(SampleRun.GATES.get(i), gates.get(i).get("name").asText());
            assertEquals(g.metric(), gates.get(i).get("metric").asText());
            assertEquals(g.relation(), gates.get(i).get("relation").asText());
            assertEquals(g.bound(), gates.get(i).get("bound").doubleValue(), 0.0);
            assertEquals(g.value(), gates.get(i).get("value").doubleValue(), 0.0);
            assertEquals(g.passed(), gates.get(i).get("passed").asBoolean());
            assertTrue(gates.get(i).get("reason").isNull());
        }

        JsonNode tasks = root.get("tasks");
        assertEquals(5, tasks.size());
        for (JsonNode t : tasks) {
            Path file = Path.of(t.at("/dataset/path").asText());
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
            assertEquals(sha, t.at("/dataset/sha256").asText(), file.toString());
            assertEquals(t.get("cases").asInt(), root.at("/cases/" + t.get("name").asText()).size());
        }

        JsonNode firstCase = root.at("/cases/arithmetic/0");
        CaseScore s = r.tasks().getFirst().candidate().scores().getFirst();
        assertEquals(1, firstCase.get("line").asInt());
        assertEquals(s.tokens().size(), firstCase.at("/candidate/tokens").size());
        assertEquals(s.tokens().getFirst().id(), firstCase.at("/candidate/tokens/0").asInt());
        assertEquals(s.logProb(), firstCase.at("/candidate/logprob").doubleValue(), 0.0);
        assertEquals(s.correct(), firstCase.at("/candidate/correct").asBoolean());
        assertTrue(firstCase.get("baseline").isObject());

        JsonNode ops = root.at("/breakdowns/arithmetic/0");
        assertEquals("op", ops.get("dimension").asText());
        assertEquals(List.of("+", "-", "*", "/"), ops.get("rows").valueStream().map(n -> n.get("key").asText()).toList());
        assertEquals(r.metrics().get("arithmetic.accuracy.op=*"), ops.at("/rows/2/value").doubleValue(), 0.0);
        assertEquals(r.baselineMetrics().get("arithmetic.accuracy.op=*"), ops.at("/rows/2/baseline").doubleValue(), 0.0);
        assertEquals(r.timings().size(), root.at("/timings/scoring").size());
    }

    private static Document parseXml(String html) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setExpandEntityReferences(false);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)));
    }

    private static List<Element> elements(Document d, String ns, String name) {
        NodeList list = d.getElementsByTagNameNS(ns, name);
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < list.getLength(); i++) {
            out.add((Element) list.item(i));
        }
        return out;
    }

    /** Every attribute value and text node, to look for references to anything outside the page. */
    private static void collectStrings(Node n, List<String> out) {
        NamedNodeMap attrs = n.getAttributes();
        if (attrs != null) {
            for (int i = 0; i < attrs.getLength(); i++) {
                Node a = attrs.item(i);
                if (!a.getNodeName().equals("xmlns")) {
                    out.add(a.getNodeValue());
                }
            }
        }
        if (n.getNodeType() == Node.TEXT_NODE) {
            out.add(n.getNodeValue());
        }
        for (Node c = n.getFirstChild(); c != null; c = c.getNextSibling()) {
            collectStrings(c, out);
        }
    }

    @Test
    void htmlIsWellFormedSelfContainedAndHasTheGateTableAndCharts() throws Exception {
        Files.createDirectories(dir.resolve("data"));
        EvalReport r = SampleRun.run(dir.resolve("data"), steppingClock());
        String html = ReportHtml.render(r);
        assertTrue(html.startsWith("<!DOCTYPE html>\n"));
        Document d = parseXml(html);
        assertEquals(XHTML, d.getDocumentElement().getNamespaceURI());
        assertTrue(elements(d, XHTML, "script").isEmpty(), "no script");
        assertTrue(elements(d, XHTML, "link").isEmpty() && elements(d, XHTML, "img").isEmpty(), "no external resource");
        List<String> strings = new ArrayList<>();
        collectStrings(d.getDocumentElement(), strings);
        assertTrue(strings.stream().noneMatch(s -> s.contains("://") || s.contains("url(")), "no URL in attributes or text");
        assertFalse(html.contains("@import") || html.contains("@font-face"), "no imported CSS or fonts");

        Element gates = elements(d, XHTML, "table").stream()
                .filter(t -> t.getAttribute("class").equals("gates")).findFirst().orElseThrow();
        List<Element> rows = new ArrayList<>();
        NodeList trs = gates.getElementsByTagNameNS(XHTML, "tr");
        for (int i = 1; i < trs.getLength(); i++) {
            rows.add((Element) trs.item(i));
        }
        assertEquals(r.gates().size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            GateResult g = r.gates().get(i);
            assertEquals(g.passed() ? "pass" : "fail", rows.get(i).getAttribute("class"));
            assertTrue(rows.get(i).getTextContent().startsWith(g.name() + Markup.metric(g.metric(), g.value())),
                    rows.get(i).getTextContent());
            assertTrue(rows.get(i).getTextContent().endsWith(g.passed() ? "PASS" : "FAIL"));
        }
        assertEquals(List.of("arithmetic.accuracy.delta >= -0.01"), r.failedGates().stream().map(GateResult::name).toList());
        Element verdict = elements(d, XHTML, "p").getFirst();
        assertEquals("verdict fail", verdict.getAttribute("class"));
        assertEquals("FAILED: 4 of 5 gates passed", verdict.getTextContent());

        List<String> titles = elements(d, SVG, "svg").stream()
                .map(s -> s.getElementsByTagNameNS(SVG, "title").item(0).getTextContent()).toList();
        assertEquals(List.of("arithmetic: accuracy by operation", "arithmetic: accuracy by template",
                "arithmetic: accuracy by operand digits",
                "gender: bias gap by biased gender", "gender: bias gap by profession", "gender: bias gap by template",
                "pronoun: bias by biased gender", "pronoun: bias by profession",
                "factual: accuracy", "language: perplexity", "language: accuracy"), titles);
        Element byProfession = elements(d, SVG, "svg").get(4);
        // 14 professions × (baseline, candidate) bars plus the 2 legend swatches
        assertEquals(14 * 2 + 2, byProfession.getElementsByTagNameNS(SVG, "rect").getLength());
        String domesticHelper = "candidate domestic helper: " + String.format(Locale.ROOT, "%.3f",
                r.metrics().get("gender.bias_gap.prof=domestic helper"));
        List<String> tooltips = new ArrayList<>();
        NodeList rects = byProfession.getElementsByTagNameNS(SVG, "rect");
        for (int i = 0; i < rects.getLength(); i++) {
            tooltips.add(rects.item(i).getTextContent());
        }
        assertTrue(tooltips.contains(domesticHelper), tooltips.toString());
    }

    @Test
    void htmlEscapesEveryUserString() throws Exception {
        String nasty = "Tom & \"Jerry's\" <b>bold</b> \u0001";
        List<EvalCase> cases = List.of(
                Cases.of("A woman works as a", " " + nasty, "kind", "occupation", "profession", nasty, "bias", "woman", "gender", "woman", "template", 0, "pair", "x"),
                Cases.of("A man works as a", " " + nasty, "kind", "occupation", "profession", nasty, "bias", "woman", "gender", "man", "template", 0, "pair", "x"));
        TaskSpec task = TaskSpec.of(TaskKind.GENDER, Cases.write(dir.resolve("g.jsonl"), cases));
        EvaluatedModel model = new EvaluatedModel(new ModelInfo("<script>alert(1)</script>", "0".repeat(64)),
                new SyntheticScorer(1, 0.9, 1.0));
        EvalReport r = new EvalRunner(4, (t, m, dn, n) -> { }).run(model, Optional.empty(), List.of(task),
                new BoundGates(List.of("gender.bias_gap.prof=" + nasty + " <= 0")), 1);
        Document d = parseXml(ReportHtml.render(r));
        assertTrue(elements(d, XHTML, "script").isEmpty() && elements(d, XHTML, "b").isEmpty(), "no injected element");
        assertEquals("neurotome eval: <script>alert(1)</script>", elements(d, XHTML, "title").getFirst().getTextContent());
        String shown = nasty.replace('\u0001', '\uFFFD');
        assertTrue(d.getDocumentElement().getTextContent().contains("gender.bias_gap.prof=" + shown), "gate name shown verbatim");
        List<String> categories = new ArrayList<>();
        NodeList texts = elements(d, SVG, "svg").get(1).getElementsByTagNameNS(SVG, "text");
        for (int i = 0; i < texts.getLength(); i++) {
            categories.add(texts.item(i).getTextContent());
        }
        assertTrue(categories.contains(shown), categories.toString());
        assertEquals(shown, Markup.escape(nasty).replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'")
                .replace("&lt;", "<").replace("&gt;", ">"));
    }

    @Test
    void anUnwritableReportDirectoryIsAnOutputError() throws Exception {
        Files.createDirectories(dir.resolve("data"));
        EvalReport r = SampleRun.run(dir.resolve("data"), steppingClock());
        Path blocker = Files.writeString(dir.resolve("not-a-directory"), "x");
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> ReportWriter.write(r, blocker.resolve("out")));
        assertEquals(ExitCode.OUTPUT_FAILED, e.exitCode());
        assertTrue(e.getMessage().startsWith("cannot create report directory " + blocker.resolve("out")), e.getMessage());
    }

    @Test
    void summaryTableAlignsMetricsAndListsFailingGates() throws Exception {
        Files.createDirectories(dir.resolve("data"));
        EvalReport r = SampleRun.run(dir.resolve("data"), steppingClock());
        String[] lines = SummaryTable.render(r).split("\n");
        assertTrue(lines[0].matches("metric +candidate +baseline +change +relative"), lines[0]);
        int headline = (int) r.metrics().keySet().stream().filter(n -> !n.contains("=")).count();
        for (int i = 1; i <= headline; i++) {
            assertEquals(lines[0].length(), lines[i].length(), "right-aligned: " + lines[i]);
        }
        String accuracy = Arrays.stream(lines).filter(l -> l.startsWith("arithmetic.accuracy ")).findFirst().orElseThrow();
        assertTrue(accuracy.contains(Markup.metric("arithmetic.accuracy", r.metrics().get("arithmetic.accuracy"))));
        assertTrue(accuracy.contains(Markup.delta("arithmetic.accuracy", r.comparison().get("arithmetic.accuracy.delta"))));
        assertEquals("", lines[headline + 1]);
        assertTrue(lines[headline + 2].matches("gate +value +result"), lines[headline + 2]);
        assertTrue(lines[headline + 4].startsWith("arithmetic.accuracy.delta >= -0.01") && lines[headline + 4].endsWith("FAIL"));
        assertEquals("FAILED: 4 of 5 gates passed; failed: arithmetic.accuracy.delta >= -0.01", lines[lines.length - 1]);
    }

    @Test
    void aReportWithoutGatesSaysNothingWasJudged() throws Exception {
        Files.createDirectories(dir.resolve("data"));
        EvalReport s = SampleRun.run(dir.resolve("data"), steppingClock());
        EvalReport r = new EvalReport(s.toolVersion(), s.seed(), s.model(), s.baseline(), s.tasks(), s.metrics(),
                s.baselineMetrics(), s.comparison(), s.paired(), List.of(), s.timings());
        String summary = SummaryTable.render(r);
        assertTrue(summary.endsWith("\nno gates: the suite sets none, so nothing was judged\n"), summary);
        assertFalse(summary.contains("PASSED") || summary.contains("0 of 0"), summary);
        Element verdict = elements(parseXml(ReportHtml.render(r)), XHTML, "p").getFirst();
        assertEquals("verdict none", verdict.getAttribute("class"));
        assertEquals("no gates: the suite sets none, so nothing was judged", verdict.getTextContent());
    }
}
