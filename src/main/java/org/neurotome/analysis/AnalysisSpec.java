package org.neurotome.analysis;

import org.neurotome.arch.Head;
import org.neurotome.cna.Attribution.NeuronPath;
import org.neurotome.cna.PromptSet;
import org.neurotome.cna.Scoring;
import org.neurotome.eval.EvalCase;
import org.neurotome.lora.LoraTrainer;
import org.neurotome.lora.TrainingData;

import java.nio.file.Path;
import java.util.List;
import java.util.function.IntFunction;

/**
 * One analysis of the paper, as {@link Analyses#run} runs it on a model and a set of prompts:
 * the head scan (P1 §3.2), log-probability-increase attribution (P1 §3.3), Comparative Neuron
 * Analysis against one kind of side B (P1 §4), or the LoRA layer scan (P1 §5: a LoRA per layer,
 * then CNA between the model and the best one), or, for a mixture of experts, the expert scan,
 * expert attribution or expert usage. The {@code locate} command and a recipe's
 * {@code locate} steps both describe their analyses this way.
 */
public sealed interface AnalysisSpec {

    /**
     * Zero each head in turn; {@code groupBy} names the labels whose accuracy is also reported
     * (null: chosen); run as {@code shards} shards of whole batches, merged (1: unsharded).
     */
    record HeadScan(List<String> groupBy, int shards) implements AnalysisSpec {
    }

    /**
     * Every component's log-probability increase for the target; {@code scoring} says whether
     * every one is scored exactly or only those bounds cannot rule out of the top K; run as
     * {@code shards} shards of whole passes, merged (1: unsharded; more need exhaustive scoring).
     */
    record Attribution(NeuronPath neuronPath, Scoring scoring, int shards) implements AnalysisSpec {
    }

    /** Importance on the prompts (side A) against {@code against} (side B), scored as {@code scoring} says. */
    record Cna(Against against, NeuronPath neuronPath, Scoring scoring) implements AnalysisSpec {
    }

    /**
     * A LoRA on each of {@code layers}, trained on {@code data} with the settings of each layer,
     * scored on {@code scoreCases}; then CNA between the model and the model with the best one,
     * scored as {@code scoring} says; the layers trained in {@code shards} shards of consecutive
     * layers (1: none).
     */
    record LoraScan(TrainingData data, List<Integer> layers, IntFunction<LoraTrainer.Settings> settings,
                    List<EvalCase> scoreCases, Scoring scoring, int shards) implements AnalysisSpec {
    }

    /** Remove each expert of each sparse layer from its routing in turn (a mixture of experts only). */
    record ExpertScan() implements AnalysisSpec {
    }

    /** Every routed expert's log-probability increase for the target (a mixture of experts only). */
    record ExpertAttribution() implements AnalysisSpec {
    }

    /** Selection frequency, mean routing weight and REAP saliency of every expert over the prompts. */
    record ExpertUsage() implements AnalysisSpec {
    }

    /** What CNA compares the model's run on the prompts with. */
    sealed interface Against {
    }

    /** The same model with these heads zeroed at every position. */
    record AblatedHeads(List<Head> heads) implements Against {
    }

    /** Another checkpoint of the same shape. */
    record OtherCheckpoint(Path checkpoint) implements Against {
    }

    /** The same checkpoint with this PEFT LoRA adapter on its weights. */
    record WithAdapter(Path adapter) implements Against {
    }

    /** The same model on other prompts, case by case (targets kept from side A). */
    record ContrastPrompts(PromptSet prompts) implements Against {
    }
}
