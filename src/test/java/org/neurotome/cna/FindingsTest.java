package org.neurotome.cna;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.ReferenceData;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Findings documents: the keys scripts rely on (docs/findings.md), the ranked lists read
 * back in order with their ranking values, {@code top 0} meaning all, and malformed files
 * rejected with the file named.
 */
class FindingsTest {
    private static final int[] PROMPT = {1, 403, 407, 261};
    static LanguageModel model;
    static VocabularyProjection projection;
    static Provenance provenance;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() {
        model = LanguageModel.open(ReferenceData.caseDir("stories260K"), Device.cpu());
        projection = new VocabularyProjection(model.weights(), VocabularyProjection.DEFAULT_CACHE_BYTES);
        provenance = new Provenance(Provenance.model(model), null, Provenance.prompt(null, PROMPT),
                Json.MAPPER.createObjectNode().put("method", "test"));
    }

    @AfterAll
    static void tearDown() {
        projection.close();
        model.close();
    }

    @Test
    void attributionFindingsReadBackInRankOrder() {
        AttributionResult r = new Attribution(model, projection, Attribution.Options.defaults())
                .run(PromptSet.ofIds(PROMPT, new int[0]), false, Scoring.EXHAUSTIVE);
        Path file = tmp.resolve("f.json");
        Findings.attribution(r, provenance, 0, null, false).write(file);
        Findings f = Findings.read(file);
        assertEquals("attribution", f.method());
        assertEquals(r.steps().getFirst().target(), f.target());
        List<AttributionResult.NeuronScore> neurons = r.neurons(0);
        assertEquals(5 * 172, neurons.size(), "--top 0 lists every neuron");
        assertEquals(neurons.size(), f.neurons().size());
        for (int i = 0; i < neurons.size(); i++) {
            assertEquals(neurons.get(i).neuron(), f.neurons().get(i).neuron());
            assertEquals(neurons.get(i).score(), f.neurons().get(i).value(), 0);
        }
        assertEquals(r.heads(3).stream().map(AttributionResult.HeadScore::head).toList(),
                f.heads().subList(0, 3).stream().map(Findings.RankedHead::head).toList());
        assertEquals(Set.of("layer", "neuron", "score", "coef"), keys(f.neurons().getFirst().fields()));
        assertEquals(Set.of("layer", "head", "score"), keys(f.heads().getFirst().fields()));
        assertEquals(5, f.document().path("layers").size());
        assertEquals(provenance.model().path("fingerprint"), f.document().path("model").path("fingerprint"));
    }

    @Test
    void headScanAndCnaEntriesCarryTheirContractKeys() {
        HeadScanResult scan = HeadScan.run(model, PromptSet.ofIds(PROMPT, new int[0]), HeadScan.Options.defaults());
        Findings s = Findings.headScan(scan, provenance, 5, null, true);
        assertEquals(5, s.heads().size());
        assertTrue(keys(s.heads().getFirst().fields()).containsAll(Set.of("layer", "head", "prob", "logprob", "drop")));
        assertEquals(scan.ranked().getFirst().drop(), s.heads().getFirst().value(), 0);
        assertEquals("drop", s.document().path("rank").path("heads").asText());
        assertEquals(1, s.document().path("cases").size());

        ComparisonResult cna = Comparison.headsAblated(new Attribution(model, projection, Attribution.Options.defaults()),
                PromptSet.ofIds(PROMPT, new int[0]), List.of(new Head(3, 5)), true, Scoring.EXHAUSTIVE);
        Findings c = Findings.comparison(cna, provenance, 4, 3, null, true);
        assertEquals(Set.of("layer", "neuron", "diff", "score_a", "score_b", "coef_a", "coef_b", "top_tokens"),
                keys(c.neurons().getFirst().fields()));
        assertEquals(3, c.neurons().getFirst().fields().path("top_tokens").size());
        assertEquals(cna.ranked(1).getFirst().diff(), c.neurons().getFirst().value(), 0);
        assertEquals("heads-ablated", c.document().path("comparison").asText());
        assertEquals("3.5", c.document().path("ablate").get(0).asText());
        assertEquals(4, c.document().path("cases").get(0).path("neurons").size());
    }

    @Test
    void malformedFindingsAreBadInputNamingTheFile() throws IOException {
        String good = "{\"format\":\"neurotome-findings/1\",\"method\":\"cna\",\"target\":null,\"rank\":{\"neurons\":\"diff\"},"
                + "\"heads\":[],\"neurons\":[{\"layer\":1,\"neuron\":2,\"diff\":0.5}]}";
        Path ok = Files.writeString(tmp.resolve("ok.json"), good);
        assertEquals(0.5, Findings.read(ok).neurons().getFirst().value());
        String[][] bad = {
                {good.replace("findings/1", "findings/9"), "format"},
                {good.replace("\"cna\"", "\"grep\""), "method"},
                {good.replace("\"heads\":[]", "\"heads\":{}"), "heads"},
                {good.replace("\"layer\":1,", ""), "layer"},
                {good.replace("\"target\":null", "\"target\":\"x\""), "target"},
                {"[1, 2]", "JSON object"},
                {"{", "cannot read"},
        };
        for (String[] b : bad) {
            Path f = Files.writeString(tmp.resolve("bad.json"), b[0]);
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> Findings.read(f), b[0]);
            assertEquals(2, e.exitCode().code());
            assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains(b[1]), e.getMessage());
        }
    }

    private static Set<String> keys(JsonNode o) {
        List<String> k = new ArrayList<>();
        o.fieldNames().forEachRemaining(k::add);
        return Set.copyOf(k);
    }
}
