package org.neurotome.cna;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.neurotome.model.LanguageModel;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * {@link PullBackBatch} gives each queued row and token the vector the definition gives it: a
 * row y's is {@code y · W̃} and a token t's is row t of W̃, W̃ = C(W_U ⊙ g) computed here from the
 * unembedding directly; a token queued twice shares its slot, and rows queued past what the
 * batch holds are computed in steps with the same answers.
 */
class PullBackBatchTest {
    @Test
    void queuedRowsAndTokensGetTheirPullBacks() {
        try (LanguageModel m = LanguageModel.open(Path.of("checkpoints", "fixture-llama"), Device.cpu());
             VocabularyProjection projection = new VocabularyProjection(m.weights(), 0);
             NDManager mm = NDManager.newBaseManager()) {
            int vocab = m.config().vocabSize();
            int d = m.config().hiddenSize();
            float[] wTilde = m.weights().unembed().mul(m.weights().finalNormWeight()).toFloatArray(); // RMSNorm: C is the identity
            Random random = new Random(5);
            int rows = (int) (PullBackBatch.MAX_BYTES / (4L * vocab)) + 3;                // one step past what the batch holds
            float[][] y = new float[rows][vocab];
            PullBackBatch batch = new PullBackBatch(projection);
            int[] rowSlot = new int[rows];
            int[] tokens = {7, vocab - 1, 7, 0};
            int[] tokenSlot = new int[tokens.length];
            for (int i = 0; i < rows; i++) {
                for (int v = 0; v < vocab; v++) {
                    y[i][v] = (float) random.nextGaussian();
                }
                rowSlot[i] = batch.add(y[i]);
                if (i < tokens.length) {
                    tokenSlot[i] = batch.addToken(tokens[i]);
                }
            }
            assertEquals(tokenSlot[0], tokenSlot[2], "a token queued again shares its slot");
            assertNotEquals(tokenSlot[0], tokenSlot[1]);
            for (int i = 0; i < rows; i += Math.max(1, rows / 7)) {
                float[] got = batch.vector(rowSlot[i]);
                for (int c = 0; c < d; c++) {
                    double want = 0;
                    double scale = 0;
                    for (int v = 0; v < vocab; v++) {
                        want += (double) y[i][v] * wTilde[v * d + c];
                        scale += Math.abs((double) y[i][v] * wTilde[v * d + c]);
                    }
                    assertEquals(want, got[c], 1e-5 * scale, "row " + i + " column " + c);
                }
            }
            for (int j = 0; j < tokens.length; j++) {
                float[] want = new float[d];
                System.arraycopy(wTilde, tokens[j] * d, want, 0, d);
                assertArrayEquals(want, batch.vector(tokenSlot[j]), "token " + tokens[j]);
            }
        }
    }
}
