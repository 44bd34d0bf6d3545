package org.neurotome.recipe;

import org.neurotome.arch.Expert;
import org.neurotome.arch.Head;
import org.neurotome.arch.Neuron;

import java.util.List;
import java.util.Map;

/**
 * What a {@code ${id}} stands for when the recipe runs: the heads or neurons a locate step
 * ranked (all it kept) or a select step chose, or the experts a select step chose.
 */
public sealed interface Selection {
    int size();

    record Heads(List<Head> heads) implements Selection {
        public Heads {
            heads = List.copyOf(heads);
        }

        @Override
        public int size() {
            return heads.size();
        }
    }

    record Neurons(List<Neuron> neurons) implements Selection {
        public Neurons {
            neurons = List.copyOf(neurons);
        }

        @Override
        public int size() {
            return neurons.size();
        }
    }

    record Experts(List<Expert> experts) implements Selection {
        public Experts {
            experts = List.copyOf(experts);
        }

        @Override
        public int size() {
            return experts.size();
        }
    }

    /** The heads a recipe value names: listed, or an earlier step's by {@code ${id}}. */
    static List<Head> heads(HeadSet set, Map<String, Selection> selections) {
        return switch (set) {
            case HeadSet.Listed l -> l.heads();
            case Reference ref -> ((Selection.Heads) selections.get(ref.id())).heads();
        };
    }

    /** The neurons a recipe value names: listed, or an earlier step's by {@code ${id}}. */
    static List<Neuron> neurons(NeuronSet set, Map<String, Selection> selections) {
        return switch (set) {
            case NeuronSet.Listed l -> l.neurons();
            case Reference ref -> ((Selection.Neurons) selections.get(ref.id())).neurons();
        };
    }

    /** The experts a recipe value names: listed, or an earlier select's by {@code ${id}}. */
    static List<Expert> experts(ExpertSet set, Map<String, Selection> selections) {
        return switch (set) {
            case ExpertSet.Listed l -> l.experts();
            case Reference ref -> ((Selection.Experts) selections.get(ref.id())).experts();
        };
    }
}
