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
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * {@link VocabularyProjection#uncapped} answers a repeated call from the projections it
 * remembers: the answer is, bit for bit, what a projection that never saw the rows computes,
 * and rows that differ in one element, or the same rows at another scale, are projected anew.
 */
class ProjectionMemoTest {
    @Test
    void aRepeatedProjectionIsTheComputedOneAndAnyOtherIsComputed() {
        try (LanguageModel m = LanguageModel.open(Path.of("checkpoints", "fixture-llama"), Device.cpu());
             VocabularyProjection memo = new VocabularyProjection(m.weights(), 0);
             NDManager mm = NDManager.newBaseManager()) {
            int d = m.config().hiddenSize();
            Random random = new Random(3);
            float[] rows = new float[3 * d];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (float) random.nextGaussian();
            }
            float[] scales = {0.9f, 1.3f, 2.1f};
            NDArray z = mm.create(rows, new Shape(3, d));
            float[] first = memo.uncapped(z, scales).toFloatArray();
            float[] again = memo.uncapped(mm.create(rows.clone(), new Shape(3, d)), scales).toFloatArray();
            float[] fresh;
            try (VocabularyProjection other = new VocabularyProjection(m.weights(), 0)) {
                fresh = other.uncapped(z, scales).toFloatArray();
            }
            assertArrayEquals(fresh, first);
            assertArrayEquals(fresh, again, "the remembered answer is the computed one");

            float[] nudged = rows.clone();
            nudged[5] += 0.5f;
            float[] moved = memo.uncapped(mm.create(nudged, new Shape(3, d)), scales).toFloatArray();
            assertFalse(java.util.Arrays.equals(first, moved), "rows that differ in one element are projected anew");
            float[] rescaled = memo.uncapped(z, new float[] {0.9f, 1.3f, 2.2f}).toFloatArray();
            assertFalse(java.util.Arrays.equals(first, rescaled), "the same rows at another scale are projected anew");
        }
    }
}
