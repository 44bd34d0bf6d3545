package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.model.ReferenceData;
import org.w3c.dom.Document;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code neurotome locate} with the expert methods on the Qwen2-MoE reference case (a dense
 * layer between two sparse ones, a shared expert): the expert scan's and the expert
 * attribution's findings agree with the reference, the expert usage of one prompt agrees with
 * the reference's routing at every position, the charts and the HTML page parse as XML; a
 * dense model and options that do not apply exit with 2 and say why.
 */
class LocateExpertsCommandTest {
    private static final String CASE = "qwen2_moe_shared";
    private static final String MODEL = ReferenceData.caseDir(CASE).toString();

    @TempDir
    Path tmp;

    private static String ids(JsonNode prompt) {
        List<String> ids = new ArrayList<>();
        prompt.path("ids").forEach(i -> ids.add(i.asText()));
        return String.join(",", ids);
    }

    @Test
    void expertScanFindingsAgreeWithTheReference() throws Exception {
        JsonNode p = ReferenceData.expected(CASE).path("prompts").get(0);
        Path json = tmp.resolve("scan.json");
        Path svg = tmp.resolve("scan.svg");
        LocateCommandTest.Run r = LocateCommandTest.locate(MODEL, "--method", "expert-scan", "--ids", ids(p), "--top", "0",
                "--json", json.toString(), "--svg", svg.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("expert scan of"), r.out());
        JsonNode d = Json.MAPPER.readTree(json.toFile());
        assertEquals("expert-scan", d.path("method").asText());
        assertEquals(p.path("target").asInt(), d.path("target").asInt());
        assertEquals("drop", d.path("rank").path("experts").asText());
        JsonNode scan = p.path("expert_scan");
        assertEquals(2 * 8, d.path("experts").size());
        double previous = Double.POSITIVE_INFINITY;
        for (JsonNode e : d.path("experts")) {
            int si = e.path("layer").asInt() == 0 ? 0 : 1;
            assertEquals(scan.path("layers").get(si).path("layer").asInt(), e.path("layer").asInt());
            double prob = scan.path("layers").get(si).path("prob").get(e.path("expert").asInt()).asDouble();
            assertEquals(prob, e.path("prob").asDouble(), 1e-4, e.toString());
            assertEquals(scan.path("base_prob").asDouble() - prob, e.path("drop").asDouble(), 1e-4, e.toString());
            assertTrue(e.path("drop").asDouble() <= previous, "ranked by drop");
            previous = e.path("drop").asDouble();
        }
        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(svg.toFile());
        assertEquals(3 * 8, doc.getElementsByTagName("title").getLength(), "one titled cell per layer and expert");
    }

    @Test
    void expertAttributionFindingsAgreeWithTheReference() throws Exception {
        JsonNode p = ReferenceData.expected(CASE).path("prompts").get(1);
        Path json = tmp.resolve("attribution.json");
        LocateCommandTest.Run r = LocateCommandTest.locate(MODEL, "--method", "expert-attribution", "--ids", ids(p),
                "--top", "3", "--per-case", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode d = Json.MAPPER.readTree(json.toFile());
        assertEquals(3, d.path("experts").size());
        double best = Double.NEGATIVE_INFINITY;
        for (JsonNode layer : p.path("expert_increase")) {
            for (JsonNode v : layer.path("increase")) {
                best = Math.max(best, v.asDouble());
            }
        }
        assertEquals(best, d.path("experts").get(0).path("score").asDouble(), 1e-4);
        JsonNode c = d.path("cases").get(0);
        for (int si = 0; si < 2; si++) {
            JsonNode want = p.path("expert_increase").get(si);
            JsonNode got = c.path("layers").get(si);
            assertEquals(want.path("layer").asInt(), got.path("layer").asInt());
            assertEquals(want.path("shared_increase").asDouble(), got.path("shared_increase").asDouble(), 1e-4);
            assertEquals(want.path("shared_increase").asDouble(), d.path("layers").get(si).path("shared_score").asDouble(),
                    1e-4);
            for (int e = 0; e < 8; e++) {
                assertEquals(want.path("increase").get(e).asDouble(), got.path("increase").get(e).asDouble(), 1e-4);
            }
        }
    }

    @Test
    void expertUsageOfOnePromptAgreesWithTheReferenceRouting() throws Exception {
        JsonNode p = ReferenceData.expected(CASE).path("prompts").get(2);
        Path json = tmp.resolve("usage.json");
        Path svg = tmp.resolve("usage.svg");
        Path html = tmp.resolve("usage.html");
        LocateCommandTest.Run r = LocateCommandTest.locate(MODEL, "--method", "expert-usage", "--ids", ids(p),
                "--top", "0", "--json", json.toString(), "--svg", svg.toString(), "--html", html.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode d = Json.MAPPER.readTree(json.toFile());
        int tokens = p.path("ids").size();
        assertEquals(tokens, d.path("tokens").asInt());
        assertEquals(2, d.path("layers").size());
        for (int si = 0; si < 2; si++) {
            JsonNode routing = p.path("routing").get(si);
            JsonNode got = d.path("layers").get(si);
            assertEquals(routing.path("layer").asInt(), got.path("layer").asInt());
            for (int e = 0; e < 8; e++) {
                int count = 0;
                double weight = 0;
                for (int s = 0; s < tokens; s++) {
                    for (JsonNode x : routing.path("selected_experts").get(s)) {
                        if (x.asInt() == e) {
                            count++;
                            weight += routing.path("routing_weights").get(s).get(e).asDouble();
                        }
                    }
                }
                assertEquals(count, got.path("count").get(e).asInt(), "layer " + si + " expert " + e);
                assertEquals((double) count / tokens, got.path("frequency").get(e).asDouble(), 1e-6);
                assertEquals(count == 0 ? 0 : weight / count, got.path("mean_weight").get(e).asDouble(), 1e-4);
                assertEquals(count == 0, got.path("reap").get(e).asDouble() == 0, "REAP 0 exactly when never selected");
            }
        }
        assertEquals(16, d.path("experts").size());
        DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(svg.toFile());
        Document page = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(html.toFile());
        assertEquals(2 * 9, page.getElementsByTagName("tr").getLength(), "a header and 8 experts per sparse layer");
        assertEquals(2 * 2, page.getElementsByTagName("svg").getLength(), "frequency and REAP charts per layer");
        String text = Files.readAllLines(html).stream().collect(Collectors.joining("\n"));
        assertTrue(text.contains("<h2>Layer 2</h2>"), "the sparse layers by their own index");
        assertFalse(text.contains("<h2>Layer 1</h2>"), "the dense layer has no table");
    }

    @Test
    void denseModelsAndOptionsThatDoNotApplyAreRefused() {
        String dense = ReferenceData.caseDir("stories260K").toString();
        LocateCommandTest.Run r = LocateCommandTest.locate(dense, "--method", "expert-scan", "--ids", "1,403,407");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("expert-scan needs a mixture-of-experts model"), r.err());
        r = LocateCommandTest.locate(MODEL, "--method", "expert-scan", "--ids", "1,2,3", "--per-case");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--per-case"), r.err());
        r = LocateCommandTest.locate(MODEL, "--method", "head-scan", "--ids", "1,2,3", "--html",
                tmp.resolve("x.html").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--html writes the page of --method expert-usage"), r.err());
        assertFalse(Files.exists(tmp.resolve("x.html")));
        r = LocateCommandTest.locate(MODEL, "--method", "expert-attribution", "--ids", "1,2,3", "--exhaustive");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("scores every expert"), r.err());
        r = LocateCommandTest.locate(MODEL, "--method", "expert-usage", "--ids", "1,2,3", "--target", "5");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--target is not used by --method expert-usage"), r.err());
    }
}
