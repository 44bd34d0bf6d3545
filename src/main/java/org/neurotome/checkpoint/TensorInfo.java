package org.neurotome.checkpoint;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor's entry in a safetensors header: its dtype, shape, the shard file holding it
 * and its byte range relative to the start of that file's data section.
 */
public record TensorInfo(String name, DType dtype, long[] shape, Path file, long begin, long end) {

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long byteLength() {
        return end - begin;
    }

    public int[] intShape() {
        return Arrays.stream(shape).mapToInt(Math::toIntExact).toArray();
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }
}
