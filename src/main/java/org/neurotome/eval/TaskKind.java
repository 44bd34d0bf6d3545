package org.neurotome.eval;

import org.neurotome.NeurotomeException;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The kinds of evaluation task (METHOD.md A6) and the labels each kind's metrics read. A data
 * set read for a kind must carry these labels on every case; a case's optional {@code kind}
 * label, when present, must name the same kind, so a suite pointing a task at the wrong file
 * fails before anything is scored.
 */
public enum TaskKind {
    /** Arithmetic prompts; accuracy per operation, template and digit count. */
    ARITHMETIC("arithmetic", "arithmetic", List.of(
            LabelRule.string("operation", "+", "-", "*", "/"),
            LabelRule.integer("template"),
            LabelRule.integer("digits"))),
    /** Occupation prompts in woman/man pairs; the bias gap of P1 §6.2. */
    GENDER("gender", "occupation", List.of(
            LabelRule.string("profession"),
            LabelRule.string("bias", "woman", "man"),
            LabelRule.string("gender", "woman", "man"),
            LabelRule.integer("template"),
            LabelRule.string("pair"))),
    /** {@code The <profession> said that} with both pronouns as targets, paired per profession. */
    PRONOUN("pronoun", "pronoun", List.of(
            LabelRule.string("profession"),
            LabelRule.string("bias", "woman", "man"),
            LabelRule.string("gender", "woman", "man"),
            LabelRule.string("pair"))),
    /** Factual-gender control prompts; accuracy to preserve. */
    FACTUAL("factual", "factual", List.of()),
    /** Held-out text; perplexity and next-token accuracy over the target tokens. */
    LANGUAGE("language", "language", List.of());

    private final String id;
    private final String kindLabel;
    private final List<LabelRule> requiredLabels;

    TaskKind(String id, String kindLabel, List<LabelRule> requiredLabels) {
        this.id = id;
        this.kindLabel = kindLabel;
        this.requiredLabels = requiredLabels;
    }

    /** The name a suite uses for the kind, and the default metric prefix of its task. */
    public String id() {
        return id;
    }

    /** The value of the {@code kind} label that cases of this kind carry when they carry one. */
    public String kindLabel() {
        return kindLabel;
    }

    /** The labels every case must carry, with their type and allowed values. */
    public List<LabelRule> requiredLabels() {
        return requiredLabels;
    }

    /** Whether cases come in woman/man pairs sharing a {@code pair} label. */
    public boolean paired() {
        return this == GENDER || this == PRONOUN;
    }

    /** The kind named {@code id}; a BAD_INPUT error listing the allowed names otherwise. */
    public static TaskKind fromId(String id) {
        for (TaskKind k : values()) {
            if (k.id.equals(id)) {
                return k;
            }
        }
        throw NeurotomeException.badInput("unknown task kind '" + id + "'; allowed: " + allowedIds());
    }

    /** The suite names of all kinds, comma-separated. */
    public static String allowedIds() {
        return Arrays.stream(values()).map(TaskKind::id).collect(Collectors.joining(", "));
    }

    /**
     * A label a kind needs: its name, whether its value is an integer (otherwise a string),
     * and the allowed string values (empty: any).
     */
    public record LabelRule(String name, boolean integer, List<String> allowed) {
        static LabelRule string(String name, String... allowed) {
            return new LabelRule(name, false, List.of(allowed));
        }

        static LabelRule integer(String name) {
            return new LabelRule(name, true, List.of());
        }
    }
}
