package org.neurotome.recipe;

import org.neurotome.yaml.NodeDeserializer;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import org.neurotome.arch.Expert;
import org.neurotome.yaml.SchemaViolation;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The routed experts an edit acts on, listed in the recipe
 * ({@code experts: [{layer: 0, expert: 4}, 1.7, [2, 3]]}), in the order written, without duplicates.
 */
@JsonDeserialize(using = ExpertSet.Deserializer.class)
public record ExpertSet(List<Expert> experts) {
    public ExpertSet {
        experts = List.copyOf(experts);
    }

    @Override
    public String toString() {
        return experts.stream().map(Expert::toString).collect(Collectors.joining(", ", "[", "]"));
    }

    static final class Deserializer extends NodeDeserializer<ExpertSet> {
        Deserializer() {
            super(ExpertSet.class);
        }

        @Override
        protected ExpertSet read(JsonNode n, DeserializationContext ctxt) {
            if (n.isTextual() && Reference.looksLikeOne(n.asText())) {
                throw SchemaViolation.of("experts are listed, not taken from a step").gotText(n.asText())
                        .allowed("{layer: L, expert: E}, L.E or [L, E], or a list of them");
            }
            return new ExpertSet(ComponentIds.read(n, "expert", "1.5", Expert::new));
        }
    }
}
