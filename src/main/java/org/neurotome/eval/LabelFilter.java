package org.neurotome.eval;

import org.neurotome.yaml.NodeDeserializer;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import org.neurotome.yaml.SchemaViolation;
import org.neurotome.yaml.SourceTree;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Which dataset cases to keep, by their labels (docs/method.md A6 datasets: operation, template,
 * digits, profession, gender, …). Written as a mapping from label to one value or a list of
 * values: {@code where: {template: 3, operation: ["+", "-"]}}. A case matches when, for every
 * label named, it has that label with one of the listed values; values compare as text, so
 * {@code 3} matches a JSON label {@code 3} or {@code "3"}.
 *
 * @param labels label → accepted values (as text), in the order written
 */
@JsonDeserialize(using = LabelFilter.Deserializer.class)
public record LabelFilter(Map<String, List<String>> labels) {
    /** The filter that keeps every case. */
    public static final LabelFilter ALL = new LabelFilter(Map.of());

    public LabelFilter {
        Map<String, List<String>> copy = new LinkedHashMap<>();
        labels.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        labels = Collections.unmodifiableMap(copy);
    }

    /** Whether a case with these labels (label → value as text) passes the filter. */
    /** Whether the case's labels, written as text, pass the filter. */
    public boolean matches(EvalCase c) {
        Map<String, String> text = new java.util.LinkedHashMap<>();
        c.labels().forEach((k, v) -> text.put(k, String.valueOf(v)));
        return matches(text);
    }

    public boolean matches(Map<String, String> caseLabels) {
        for (Map.Entry<String, List<String>> e : labels.entrySet()) {
            String value = caseLabels.get(e.getKey());
            if (value == null || !e.getValue().contains(value)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return labels.entrySet().stream()
                .map(e -> e.getKey() + "=" + String.join("|", e.getValue()))
                .collect(Collectors.joining(", ", "{", "}"));
    }

    static final class Deserializer extends NodeDeserializer<LabelFilter> {
        Deserializer() {
            super(LabelFilter.class);
        }

        @Override
        protected LabelFilter read(JsonNode node, DeserializationContext ctxt) {
            if (!node.isObject()) {
                throw SchemaViolation.wrongType(node, "a mapping from label to value(s), e.g. {template: 3}");
            }
            Map<String, List<String>> labels = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                List<String> values = new ArrayList<>();
                JsonNode v = e.getValue();
                if (v.isArray()) {
                    if (v.isEmpty()) {
                        throw SchemaViolation.of("empty list").at(e.getKey()).allowed("one or more label values");
                    }
                    for (int i = 0; i < v.size(); i++) {
                        values.add(scalar(v.get(i), e.getKey(), i));
                    }
                } else {
                    values.add(scalar(v, e.getKey(), null));
                }
                labels.put(e.getKey(), values);
            }
            return new LabelFilter(labels);
        }

        private static String scalar(JsonNode v, String label, Integer index) {
            if (!v.isValueNode() || v.isNull()) {
                SchemaViolation violation = SchemaViolation.of("wrong type").at(label);
                if (index != null) {
                    violation.at(index);
                }
                throw violation.gotText(SourceTree.describe(v)).allowed("a label value (text, number, true/false)");
            }
            return v.asText();
        }
    }
}
