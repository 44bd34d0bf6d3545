package org.neurotome.recipe;

import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import org.neurotome.arch.Expert;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The routed experts an edit acts on: listed in the recipe
 * ({@code experts: [{layer: 0, expert: 4}, 1.7, [2, 3]]}) or chosen by an earlier select step
 * from an expert analysis's findings ({@code experts: ${weak_experts}}).
 */
@JsonDeserialize(using = ExpertSet.Deserializer.class)
public sealed interface ExpertSet permits ExpertSet.Listed, Reference {

    /** Experts written out in the recipe, in the order written, without duplicates. */
    record Listed(List<Expert> experts) implements ExpertSet {
        public Listed {
            experts = List.copyOf(experts);
        }

        @Override
        public String toString() {
            return experts.stream().map(Expert::toString).collect(Collectors.joining(", ", "[", "]"));
        }
    }

    final class Deserializer extends ReferableDeserializer<ExpertSet> {
        Deserializer() {
            super(ExpertSet.class);
        }

        @Override
        protected ExpertSet written(JsonNode n, DeserializationContext ctxt) {
            return new Listed(ComponentIds.read(n, "expert", "1.5", Expert::new));
        }
    }
}
