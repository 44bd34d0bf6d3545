package org.neurotome.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The labels the cases of a task kind must carry, which are the labels its metrics read
 * (docs/method.md A6). A case's optional {@code kind} label, when present, must equal
 * {@link #kindLabel}, so a task pointed at the wrong file fails before anything is scored.
 *
 * @param kindLabel the value of the {@code kind} label of this kind's cases
 * @param required  the labels every case carries, with type and allowed values
 * @param paired    whether cases come in woman/man pairs sharing a {@code pair} label
 */
public record LabelSchema(String kindLabel, List<Rule> required, boolean paired) {

    /** The schema of {@code kind}'s data sets. */
    public static LabelSchema of(TaskKind kind) {
        return switch (kind) {
            case ARITHMETIC -> new LabelSchema("arithmetic", List.of(
                    Rule.string("operation", "+", "-", "*", "/"),
                    Rule.integer("template"),
                    Rule.integer("digits")), false);
            case GENDER -> gendered("occupation", Rule.integer("template"));
            case PRONOUN -> gendered("pronoun");
            case FACTUAL -> new LabelSchema("factual", List.of(), false);
            case LANGUAGE -> new LabelSchema("language", List.of(), false);
        };
    }

    /**
     * The schema of woman/man pairs about a profession: {@code profession}, {@code bias} and
     * {@code gender}, then {@code more}, then {@code pair}.
     */
    private static LabelSchema gendered(String kindLabel, Rule... more) {
        List<Rule> rules = new ArrayList<>(List.of(Rule.string("profession"), Rule.string("bias", "woman", "man"),
                Rule.string("gender", "woman", "man")));
        rules.addAll(List.of(more));
        rules.add(Rule.string("pair"));
        return new LabelSchema(kindLabel, List.copyOf(rules), true);
    }

    /** The required label names, comma-separated. */
    public String requiredNames() {
        return required.stream().map(Rule::name).collect(Collectors.joining(", "));
    }

    /**
     * A required label: its name, whether its value is an integer (otherwise a string), and the
     * allowed string values (empty: any).
     */
    public record Rule(String name, boolean integer, List<String> allowed) {
        static Rule string(String name, String... allowed) {
            return new Rule(name, false, List.of(allowed));
        }

        static Rule integer(String name) {
            return new Rule(name, true, List.of());
        }
    }
}
