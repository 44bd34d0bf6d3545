package org.neurotome.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A baseline model's scores on a suite's cases, recorded once and replayed by every evaluation
 * that compares a candidate with the same baseline (a sweep's variants share the unedited model's
 * scores). Replaying them gives the report the baseline would give: a case's score depends only on
 * its prompt and target, not on the batch it is scored in ({@link CaseScorer}'s contract), and the
 * log-probabilities are kept as JSON numbers that read back to the same doubles.
 *
 * @param cases every scored case: its prompt, target and score
 */
public record BaselineScores(List<Scored> cases) {

    /** One case and how the baseline scored it. */
    public record Scored(String prompt, String target, CaseScore score) {
    }

    public BaselineScores {
        cases = List.copyOf(cases);
    }

    /** The scores of the model that {@code report} evaluated (as candidate), on every case of its tasks. */
    public static BaselineScores of(EvalReport report) {
        List<Scored> cases = new ArrayList<>();
        for (TaskResult t : report.tasks()) {
            List<EvalCase> run = t.dataset().cases();
            for (int i = 0; i < run.size(); i++) {
                cases.add(new Scored(run.get(i).prompt(), run.get(i).target(), t.candidate().scores().get(i)));
            }
        }
        return new BaselineScores(cases);
    }

    /** A scorer that answers with the recorded scores; a case not recorded is an internal error. */
    public CaseScorer scorer() {
        Map<List<String>, CaseScore> byCase = new HashMap<>();
        cases.forEach(c -> byCase.put(List.of(c.prompt(), c.target()), c.score()));
        return batch -> batch.stream().map(c -> {
            CaseScore s = byCase.get(List.of(c.prompt(), c.target()));
            if (s == null) {
                throw new IllegalStateException("the recorded baseline has no score for case '" + c.prompt()
                        + "' → '" + c.target() + "'");
            }
            return s;
        }).toList();
    }

    /** The scores as JSON text: per case, its prompt, target and [id, log-probability, predicted] per token. */
    public String toJson() {
        ObjectNode n = Json.MAPPER.createObjectNode();
        ArrayNode all = n.putArray("cases");
        for (Scored c : cases) {
            ObjectNode o = all.addObject().put("prompt", c.prompt()).put("target", c.target());
            ArrayNode tokens = o.putArray("tokens");
            for (TokenScore t : c.score().tokens()) {
                tokens.addArray().add(t.id()).add(t.logProb()).add(t.predicted());
            }
        }
        try {
            return Json.MAPPER.writeValueAsString(n) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads what {@link #toJson} wrote; text that is not such a record is an {@link IllegalArgumentException}. */
    public static BaselineScores fromJson(String text) {
        JsonNode n = Json.tree(text);
        List<Scored> cases = new ArrayList<>();
        for (JsonNode c : n.required("cases")) {
            List<TokenScore> tokens = new ArrayList<>();
            for (JsonNode t : c.required("tokens")) {
                tokens.add(new TokenScore(t.required(0).asInt(), t.required(1).asDouble(), t.required(2).asInt()));
            }
            cases.add(new Scored(c.required("prompt").asText(), c.required("target").asText(), new CaseScore(tokens)));
        }
        return new BaselineScores(cases);
    }
}
