package org.neurotome.recipe;

import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import org.neurotome.arch.LayerRange;


/**
 * The layers a LoRA of a recipe adapts: a range written in the recipe ({@code layers: 9},
 * {@code 2-5}, {@code 17-}), or {@code ${id}} of an earlier {@code lora-scan} step, meaning the
 * layer whose LoRA gained the most there.
 */
@JsonDeserialize(using = LayerSource.Deserializer.class)
public sealed interface LayerSource permits LayerSource.Range, Reference {

    /** Layers written in the recipe. */
    record Range(LayerRange range) implements LayerSource {
        @Override
        public String toString() {
            return range.toString();
        }
    }

    final class Deserializer extends ReferableDeserializer<LayerSource> {
        private final LayerRangeDeserializer ranges = new LayerRangeDeserializer();

        Deserializer() {
            super(LayerSource.class);
        }

        @Override
        protected LayerSource written(JsonNode n, DeserializationContext ctxt) {
            return new Range(ranges.read(n, ctxt));
        }
    }
}
