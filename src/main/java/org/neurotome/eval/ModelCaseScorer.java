package org.neurotome.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The {@link CaseScorer} of a loaded model: cases go through right-padded forwards of at most
 * {@link #FORWARD_ROWS} rows with logits at every position (all of a call's forwards together,
 * so a streamed model reads each layer once per call), and target token i of a case is read,
 * teacher-forced, at position {@code |prompt| + i − 1} as a log-softmax over the whole
 * vocabulary, with the argmax (lowest id on ties) as the prediction. Only those numbers leave
 * libtorch. It scores a checkpoint's model as well as a model view that has no tokenizer of its
 * own (a LoRA being trained, scored with its base model's tokenizer).
 */
public final class ModelCaseScorer implements CaseScorer {
    /** Cases per batched forward. */
    public static final int FORWARD_ROWS = 32;

    private final Transformer transformer;
    private final Function<String, int[]> encoder;
    private final Consumer<NDArray> finiteCheck;

    /** Scores {@code model}, refusing non-finite logits as the model does. */
    public ModelCaseScorer(LanguageModel model) {
        this(model.transformer(), model::encode, model::requireFinite);
    }

    /** Scores {@code transformer} with {@code encoder} (text to ids, special tokens as the model adds them). */
    public ModelCaseScorer(Transformer transformer, Function<String, int[]> encoder) {
        this(transformer, encoder, logits -> { });
    }

    private ModelCaseScorer(Transformer transformer, Function<String, int[]> encoder, Consumer<NDArray> finiteCheck) {
        this.transformer = transformer;
        this.encoder = encoder;
        this.finiteCheck = finiteCheck;
    }

    @Override
    public List<CaseScore> score(List<EvalCase> cases) {
        int[] promptLength = new int[cases.size()];
        int[][] targets = new int[cases.size()][];
        List<ForwardRequest> requests = new ArrayList<>();
        List<int[]> rows = new ArrayList<>();
        for (int b = 0; b < cases.size(); b++) {
            EvalCase c = cases.get(b);
            int[] prompt;
            int[] ids;
            try {
                prompt = encoder.apply(c.prompt());
                ids = encoder.apply(c.prompt() + c.target());
                targets[b] = CaseScorer.targetTokens(c, prompt, ids);
            } catch (org.neurotome.NeurotomeException e) {
                throw new CaseRefused(b, e);
            }
            promptLength[b] = prompt.length;
            rows.add(ids);
            if (rows.size() == FORWARD_ROWS || b == cases.size() - 1) {
                requests.add(ForwardRequest.tokens(rows).withAllLogits());
                rows = new ArrayList<>();
            }
        }
        CaseScore[] out = new CaseScore[cases.size()];
        transformer.forwardEach(requests, (i, r) -> {
            int first = i * FORWARD_ROWS;
            int n = r.batchSize();
            int seq = (int) r.logits().getShape().get(1);
            List<Long> at = new ArrayList<>();
            List<Long> wanted = new ArrayList<>();
            for (int b = 0; b < n; b++) {
                for (int j = 0; j < targets[first + b].length; j++) {
                    at.add((long) b * seq + promptLength[first + b] + j - 1);
                    wanted.add((long) targets[first + b][j]);
                }
            }
            float[] logprob;
            long[] best;
            finiteCheck.accept(r.logits());
            try (NDScope scope = new NDScope()) {
                NDArray flat = r.logits().reshape(-1, r.logits().getShape().get(2));        // [B·S, V]
                NDArray picked = flat.get(r.manager().create(at.stream().mapToLong(Long::longValue).toArray()));
                best = picked.argMax(1).toLongArray();
                logprob = picked.logSoftmax(1).gather(r.manager().create(
                        wanted.stream().mapToLong(Long::longValue).toArray(), new Shape(wanted.size(), 1)), 1)
                        .toFloatArray();
            }
            int k = 0;
            for (int b = 0; b < n; b++) {
                List<TokenScore> tokens = new ArrayList<>(targets[first + b].length);
                for (int j = 0; j < targets[first + b].length; j++, k++) {
                    tokens.add(new TokenScore(targets[first + b][j], logprob[k], Math.toIntExact(best[k])));
                }
                out[first + b] = new CaseScore(tokens);
            }
        });
        return Arrays.asList(out);
    }
}
