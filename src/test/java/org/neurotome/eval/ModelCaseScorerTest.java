package org.neurotome.eval;

import org.neurotome.testing.TestModels;
import ai.djl.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The batched, teacher-forced scorer equals scoring each target token alone: one unpadded
 * forward per prefix, log-softmax of its last position computed in Java.
 */
class ModelCaseScorerTest {
    @TempDir
    Path tmp;

    private Path modelWithTokenizer() throws IOException {
        return TestModels.storiesWithFixtureTokenizer(tmp);
    }

    @Test
    void batchedScoresEqualOneForwardPerPrefix() throws IOException {
        List<EvalCase> cases = List.of(
                new EvalCase("3+5=", "8", new LinkedHashMap<>()),
                new EvalCase("The sum of 12 and 30 is", " 42", new LinkedHashMap<>()),
                new EvalCase("A woman works as a", " dental assistant", new LinkedHashMap<>()));
        try (LanguageModel model = LanguageModel.open(modelWithTokenizer(), Device.cpu())) {
            List<CaseScore> batched = new ModelCaseScorer(model).score(cases);
            for (int c = 0; c < cases.size(); c++) {
                int[] prompt = model.encode(cases.get(c).prompt());
                int[] full = model.encode(cases.get(c).prompt() + cases.get(c).target());
                List<TokenScore> tokens = batched.get(c).tokens();
                assertEquals(full.length - prompt.length, tokens.size());
                for (int i = 0; i < tokens.size(); i++) {
                    int[] prefix = Arrays.copyOf(full, prompt.length + i);
                    float[] logits;
                    try (ForwardResult r = model.transformer().forward(ForwardRequest.tokens(prefix))) {
                        logits = r.lastLogits(0);
                    }
                    double max = Double.NEGATIVE_INFINITY;
                    int argmax = 0;
                    for (int v = 0; v < logits.length; v++) {
                        if (logits[v] > max) {
                            max = logits[v];
                            argmax = v;
                        }
                    }
                    double sum = 0;
                    for (float l : logits) {
                        sum += Math.exp(l - max);
                    }
                    int target = full[prompt.length + i];
                    assertEquals(target, tokens.get(i).id());
                    assertEquals(logits[target] - max - Math.log(sum), tokens.get(i).logProb(), 1e-4, "case " + c + " token " + i);
                    assertEquals(argmax, tokens.get(i).predicted());
                }
            }
        }
    }
}
