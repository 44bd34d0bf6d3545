package org.neurotome.checkpoint;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Files over 2 GiB: offsets past 2^31 must read correctly, single-file and sharded. Writes
 * about 5 GiB under {@code target/}, so it is tagged slow (run with {@code mvn test -Pslow}).
 */
@Tag("slow")
class LargeCheckpointTest {
    private static final long BIG = 600L * 1024 * 1024; // elements: 2.34 GiB of F32
    private final Path root = Path.of("target", "large-checkpoint-test");

    @AfterEach
    void cleanUp() throws IOException {
        org.neurotome.FileTree.delete(root);
    }

    /** A tensor whose byte i is (i * 31) mod 251, written in 1 MiB chunks. */
    private static OutputTensor patterned(String name, long elements) {
        return new OutputTensor(name, DType.F32, new long[] {elements}, out -> {
            byte[] chunk = new byte[1 << 20];
            long total = elements * 4;
            for (long off = 0; off < total; off += chunk.length) {
                int n = (int) Math.min(chunk.length, total - off);
                for (int i = 0; i < n; i++) {
                    chunk[i] = (byte) (((off + i) * 31) % 251);
                }
                out.write(chunk, 0, n);
            }
        });
    }

    @Test
    void readsTensorsPastTwoGibibytesSingleAndSharded() {
        float[] tail = {1f, 2f, 3f, -4.5f};
        List<OutputTensor> tensors = List.of(patterned("big", BIG),
                OutputTensor.ofFloats("tail", DType.F32, new long[] {4}, tail));
        for (long shard : new long[] {Long.MAX_VALUE, 2L << 30}) {
            Path out = root.resolve(shard == Long.MAX_VALUE ? "single" : "sharded");
            new CheckpointWriter(shard, Map.of(), false).write(out, tensors, Map.of());
            try (Checkpoint ck = Checkpoint.openTensorsOnly(out)) {
                TensorInfo big = ck.info("big");
                assertEquals(BIG * 4, big.byteLength());
                assertTrue(ck.info("tail").begin() > Integer.MAX_VALUE || shard != Long.MAX_VALUE);
                assertArrayEquals(tail, ck.floats("tail"));
                MemorySegment b = ck.bytes("big");
                for (long i : new long[] {0, (1L << 31) - 1, 1L << 31, (1L << 31) + 12345, BIG * 4 - 1}) {
                    assertEquals((byte) ((i * 31) % 251), b.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
                }
                assertEquals(shard == Long.MAX_VALUE ? 1 : 2, ck.shardFiles().size());
            }
            assertTrue(Files.exists(out.resolve(shard == Long.MAX_VALUE ? Checkpoint.SINGLE : Checkpoint.INDEX)));
        }
    }
}
