package org.neurotome.eval;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Locale;

/** What an eval task measures, which decides the metrics it reports (docs/method.md A6). */
public enum TaskKind {
    /** Top-1 accuracy on arithmetic prompts, per operation, template and digit count. */
    @JsonProperty("arithmetic") ARITHMETIC,
    /** The occupation bias gap: log p(profession | biased gender) − log p(profession | other gender). */
    @JsonProperty("gender") GENDER,
    /** The pronoun variant: "The nurse said that" → she/he. */
    @JsonProperty("pronoun") PRONOUN,
    /** Factual-gender control cases (king/queen, …) whose accuracy an edit must keep. */
    @JsonProperty("factual") FACTUAL,
    /** Perplexity and next-token accuracy on held-out text. */
    @JsonProperty("language") LANGUAGE;

    /** The name as written in a suite (and the default task id). */
    public String yamlName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
