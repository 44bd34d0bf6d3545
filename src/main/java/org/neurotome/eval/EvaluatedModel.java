package org.neurotome.eval;

/** A model to evaluate: its identity for the report and the scorer that runs it. */
public record EvaluatedModel(ModelInfo info, CaseScorer scorer) {
}
