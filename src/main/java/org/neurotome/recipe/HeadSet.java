package org.neurotome.recipe;

import org.neurotome.arch.Head;

import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The attention heads an edit or comparison acts on: listed in the recipe
 * ({@code heads: [17.22, 14.19]}) or found by an earlier step ({@code heads: ${arith_heads}}).
 */
@JsonDeserialize(using = HeadSet.Deserializer.class)
public sealed interface HeadSet permits HeadSet.Listed, Reference {

    /** Heads written out in the recipe, in the order written, without duplicates. */
    record Listed(List<Head> heads) implements HeadSet {
        public Listed {
            heads = List.copyOf(heads);
        }

        @Override
        public String toString() {
            return heads.stream().map(Head::toString).collect(Collectors.joining(", ", "[", "]"));
        }
    }

    final class Deserializer extends ReferableDeserializer<HeadSet> {
        Deserializer() {
            super(HeadSet.class);
        }

        @Override
        protected HeadSet written(JsonNode n, DeserializationContext ctxt) {
            return new Listed(ComponentIds.read(n, "head", "17.22", Head::new));
        }
    }
}
