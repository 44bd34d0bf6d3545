package org.neurotome.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@link CaseScorer} of a loaded model: each batch is one right-padded forward with
 * logits at every position, and target token i of a case is read, teacher-forced, at
 * position {@code |prompt| + i − 1} as a log-softmax over the whole vocabulary, with the
 * argmax (lowest id on ties) as the prediction.
 */
public final class ModelCaseScorer implements CaseScorer {
    private final LanguageModel model;

    public ModelCaseScorer(LanguageModel model) {
        this.model = model;
    }

    @Override
    public List<CaseScore> score(List<EvalCase> batch) {
        List<int[]> full = new ArrayList<>(batch.size());
        int[] promptLength = new int[batch.size()];
        int[][] targets = new int[batch.size()][];
        for (int b = 0; b < batch.size(); b++) {
            EvalCase c = batch.get(b);
            int[] prompt = model.encode(c.prompt());
            int[] ids = model.encode(c.prompt() + c.target());
            targets[b] = CaseScorer.targetTokens(c, prompt, ids);
            promptLength[b] = prompt.length;
            full.add(ids);
        }
        List<CaseScore> out = new ArrayList<>(batch.size());
        try (NDScope scope = new NDScope();
             ForwardResult r = model.transformer().forward(ForwardRequest.tokens(full).withAllLogits())) {
            model.requireFinite(r.logits());
            NDArray logProbs = r.logits().logSoftmax(-1);          // [B, S, V]
            int seq = (int) logProbs.getShape().get(1);
            int vocab = (int) logProbs.getShape().get(2);
            float[] lp = logProbs.toFloatArray();
            for (int b = 0; b < batch.size(); b++) {
                List<TokenScore> tokens = new ArrayList<>(targets[b].length);
                for (int i = 0; i < targets[b].length; i++) {
                    int base = (b * seq + promptLength[b] + i - 1) * vocab;
                    int best = 0;
                    for (int v = 1; v < vocab; v++) {
                        if (lp[base + v] > lp[base + best]) {
                            best = v;
                        }
                    }
                    tokens.add(new TokenScore(targets[b][i], lp[base + targets[b][i]], best));
                }
                out.add(new CaseScore(tokens));
            }
        }
        return out;
    }
}
