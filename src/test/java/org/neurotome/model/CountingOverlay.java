package org.neurotome.model;

import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A weight overlay that changes nothing and counts the stored bytes of every range read
 * through it, in all and per tensor. Every kept and streamed read of the weights goes through
 * the model's {@link TensorSource}, so this sees exactly what the weight reader widens.
 */
public final class CountingOverlay implements WeightOverlay {
    private final Map<String, Long> itemSize = new HashMap<>();
    private final AtomicLong bytes = new AtomicLong();
    private final Map<String, AtomicLong> byTensor = new ConcurrentHashMap<>();

    /** Counts reads of {@code ckpt}'s tensors at their stored element sizes. */
    public CountingOverlay(Checkpoint ckpt) {
        ckpt.tensors().forEach((name, info) -> itemSize.put(name, (long) info.dtype().size()));
    }

    @Override
    public TensorSource over(TensorSource base, Architecture arch, ModelConfig config) {
        return (name, offset, count, dst) -> {
            base.read(name, offset, count, dst);
            long n = count * itemSize.get(name);
            bytes.addAndGet(n);
            byTensor.computeIfAbsent(name, k -> new AtomicLong()).addAndGet(n);
        };
    }

    /** The stored bytes read so far. */
    public long bytes() {
        return bytes.get();
    }

    /** The stored bytes read so far, per tensor name (tensors never read are absent). */
    public Map<String, Long> byTensor() {
        Map<String, Long> out = new HashMap<>();
        byTensor.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    @Override
    public Path dir() {
        return Path.of(".");
    }

    @Override
    public String fingerprint() {
        return "counting";
    }
}
