package org.neurotome.recipe;

import org.neurotome.arch.Neuron;

import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The FFN neurons an edit acts on: listed in the recipe
 * ({@code neurons: [22.2651, [19, 8436]]}) or found by an earlier step
 * ({@code neurons: ${gender_neurons}}).
 */
@JsonDeserialize(using = NeuronSet.Deserializer.class)
public sealed interface NeuronSet permits NeuronSet.Listed, Reference {

    /** Neurons written out in the recipe, in the order written, without duplicates. */
    record Listed(List<Neuron> neurons) implements NeuronSet {
        public Listed {
            neurons = List.copyOf(neurons);
        }

        @Override
        public String toString() {
            return neurons.stream().map(Neuron::toString).collect(Collectors.joining(", ", "[", "]"));
        }
    }

    final class Deserializer extends ReferableDeserializer<NeuronSet> {
        Deserializer() {
            super(NeuronSet.class);
        }

        @Override
        protected NeuronSet written(JsonNode n, DeserializationContext ctxt) {
            return new Listed(ComponentIds.read(n, "neuron", "22.2651", Neuron::new));
        }
    }
}
