package org.neurotome.cna;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;
import org.neurotome.model.ExpertRemoval;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Transformer;

import java.util.ArrayList;
import java.util.List;

/**
 * The expert scan: the head scan of {@link HeadScan} with experts in place of heads. Each
 * expert of each sparse layer is removed from that layer's routing in turn — its router logit
 * −∞ at every position, so the softmax, the top-k choice and the renormalisation run over the
 * other experts, exactly as a checkpoint without it ({@link ExpertRemoval}; transformers'
 * {@code MixtralSparseMoeBlock} / {@code Qwen2MoeSparseMoeBlock} / {@code OlmoeSparseMoeBlock}
 * routing) — and the target tokens are scored again. As in the head scan, the unablated run
 * records the residual stream entering every layer and each removal resumes from its layer,
 * the removals of a batch of cases going to the forward pass together.
 */
public final class ExpertScan {
    private ExpertScan() {
    }

    /** Removes every expert of every sparse layer of {@code model} in turn, on every step of {@code prompts}. */
    public static ExpertScanResult run(LanguageModel model, PromptSet prompts, long batchElements, Progress progress) {
        Transformer transformer = model.transformer();
        ModelConfig c = transformer.config();
        List<Integer> sparse = sparseLayers(c, "expert-scan");
        int experts = c.features().experts().count();
        List<HeadScan.Row> rows = HeadScan.rows(prompts, c);
        int[] batching = HeadScan.batching(c, rows, experts, batchElements);
        HeadScan.Measured m = HeadScan.ablateEach(transformer, rows, 0, batching[0], batching[1], sparse, experts,
                ExpertRemoval::new, ForwardRequest::withExpertRemovals, model::requireFinite, progress,
                "expert removals");
        return new ExpertScanResult(prompts, sparse, m.target(), m.baseLogprob(), m.baseTop1(), m.logprob(), m.top1());
    }

    /** The sparse layers of {@code c}; a model without experts is refused for {@code method}. */
    static List<Integer> sparseLayers(ModelConfig c, String method) {
        List<Integer> sparse = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            if (c.sparseLayer(l)) {
                sparse.add(l);
            }
        }
        if (sparse.isEmpty()) {
            throw NeurotomeException.badInput(method + " needs a mixture-of-experts model (mixtral, qwen2_moe, "
                    + "qwen3_moe, olmoe); this " + c.architecture().modelType() + " model has no experts");
        }
        return sparse;
    }
}
