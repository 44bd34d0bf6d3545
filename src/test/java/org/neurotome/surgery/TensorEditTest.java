package org.neurotome.surgery;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Tensor edits on hand-checkable matrices, and the rewriter leaving untouched tensors byte-identical. */
class TensorEditTest {
    @TempDir
    Path tmp;

    private static float[] matrix() {
        return new float[] {1, 2, 3, 4, 5, 6}; // [[1,2,3],[4,5,6]]
    }

    @Test
    void scalesRowsAndColumns() {
        long[] shape = {2, 3};
        assertArrayEquals(new float[] {0, 0, 0, 4, 5, 6}, TensorEdit.zero("w", 0, new int[] {0}).apply(matrix(), shape));
        assertArrayEquals(new float[] {1, 1, 3, 4, 2.5f, 6}, TensorEdit.scale("w", 1, new int[] {1}, 0.5f).apply(matrix(), shape));
        assertArrayEquals(new float[] {0, 2, 0, 0, 5, 0}, TensorEdit.zero("w", 1, new int[] {2, 0, 2}).apply(matrix(), shape));
        assertArrayEquals(new float[] {1, 0, 3}, TensorEdit.zero("b", 0, new int[] {1}).apply(new float[] {1, 2, 3}, new long[] {3}));
    }

    @Test
    void keepsSlicesAndChangesShape() {
        long[] shape = {2, 3};
        TensorEdit cols = TensorEdit.keep("w", 1, new int[] {2, 0});
        assertArrayEquals(new long[] {2, 2}, cols.apply(shape));
        assertArrayEquals(new float[] {1, 3, 4, 6}, cols.apply(matrix(), shape));
        TensorEdit rows = TensorEdit.keep("w", 0, new int[] {1});
        assertArrayEquals(new float[] {4, 5, 6}, rows.apply(matrix(), shape));
    }

    @Test
    void rejectsIndicesOutsideTheTensor() {
        assertThrows(IllegalArgumentException.class, () -> TensorEdit.zero("w", 0, new int[] {2}).apply(matrix(), new long[] {2, 3}));
    }

    @Test
    void rewriterEditsOnlyTheNamedTensorAndKeepsItsDtype() {
        Path src = tmp.resolve("src");
        new CheckpointWriter(1 << 20, Map.of(), false).write(src, List.of(
                OutputTensor.ofFloats("a", DType.BF16, new long[] {2, 3}, matrix()),
                OutputTensor.ofFloats("b", DType.F16, new long[] {3}, new float[] {7, 8, 9})),
                Map.of(Checkpoint.CONFIG, "{}".getBytes()));
        Path out = tmp.resolve("out");
        try (Checkpoint ck = Checkpoint.open(src)) {
            new CheckpointWriter(1 << 20, Map.of(), false).write(out,
                    WeightRewriter.rewrite(ck, List.of(TensorEdit.zero("a", 1, new int[] {1})), null),
                    Map.of(Checkpoint.CONFIG, "{}".getBytes()));
            try (Checkpoint edited = Checkpoint.open(out)) {
                assertArrayEquals(new float[] {1, 0, 3, 4, 0, 6}, edited.floats("a"));
                assertEquals(DType.BF16, edited.info("a").dtype());
                assertArrayEquals(ck.bytes("b").toArray(ValueLayout.JAVA_BYTE), edited.bytes("b").toArray(ValueLayout.JAVA_BYTE));
            }
        }
    }
}
