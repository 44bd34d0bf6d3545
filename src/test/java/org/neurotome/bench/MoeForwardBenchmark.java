package org.neurotome.bench;

import ai.djl.Device;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.TensorSource;
import org.neurotome.model.WeightOverlay;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What one forward reads of a checkpoint, measured two ways in one fresh JVM: the stored bytes
 * of every range the weight reader widens (counted by an identity {@link WeightOverlay} around
 * the model's {@link TensorSource}, which every kept and streamed read goes through), with the
 * distinct experts among them; and the bytes this process read from disk
 * ({@code read_bytes} of {@code /proc/self/io}) with the checkpoint's files dropped from the
 * page cache ({@code dd iflag=nocache}) before opening and again before the forward. Prints
 * one Markdown row: open and forward separately, and the peak resident set (VmHWM) at the end.
 * Usage: {@code scripts/bench MoeForwardBenchmark DIR BUDGET WORKLOAD} with WORKLOAD one of
 * {@code 1} (one position), {@code 8} (one prompt of 8 tokens) or {@code 4x8} (a batch of four
 * 8-token prompts); see {@code scripts/bench-moe.sh}.
 */
public final class MoeForwardBenchmark {
    private static final Pattern EXPERT = Pattern.compile("layers\\.(\\d+)\\..*experts\\.(\\d+)\\.");
    private static final int[][] PROMPTS = {
            {1, 450, 4996, 310, 3444, 338, 3681, 29889},
            {1, 319, 6114, 1736, 408, 263, 7537, 29901},
            {1, 29871, 29906, 29974, 29941, 353, 29871, 29945},
            {1, 4525, 338, 263, 1243, 310, 278, 1904}};

    private MoeForwardBenchmark() {
    }

    /** An overlay that changes nothing and counts what is read through it. */
    private static final class Counting implements WeightOverlay {
        private final Map<String, Long> itemSize;
        private final AtomicLong bytes = new AtomicLong();
        private final Set<String> experts = ConcurrentHashMap.newKeySet();

        Counting(Checkpoint ckpt) {
            this.itemSize = new java.util.HashMap<>();
            ckpt.tensors().forEach((name, info) -> itemSize.put(name, (long) info.dtype().size()));
        }

        @Override
        public TensorSource over(TensorSource base, Architecture arch, ModelConfig config) {
            return (name, offset, count, dst) -> {
                base.read(name, offset, count, dst);
                bytes.addAndGet(count * itemSize.get(name));
                Matcher m = EXPERT.matcher(name);
                if (m.find()) {
                    experts.add(m.group(1) + "." + m.group(2));
                }
            };
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

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        String budget = args[1];
        String workload = args[2];
        List<int[]> rows = new ArrayList<>();
        switch (workload) {
            case "1" -> rows.add(new int[] {PROMPTS[0][1]});
            case "8" -> rows.add(PROMPTS[0]);
            case "4x8" -> rows.addAll(List.of(PROMPTS));
            default -> throw new IllegalArgumentException("workload: 1, 8 or 4x8");
        }
        Counting counting;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            counting = new Counting(ckpt);
        }
        StreamingBenchmark.evict(dir);
        long io0 = readBytes();
        try (LanguageModel m = LanguageModel.open(dir, Device.cpu(), MemoryBudget.parse(budget), counting)) {
            long openCounted = counting.bytes.get();
            long openDisk = readBytes() - io0;
            int openExperts = counting.experts.size();
            StreamingBenchmark.evict(dir);
            long io1 = readBytes();
            long t0 = System.nanoTime();
            try (ForwardResult r = m.transformer().forward(ForwardRequest.tokens(rows))) {
                r.lastLogits(0);
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            long fwdDisk = readBytes() - io1;
            long fwdCounted = counting.bytes.get() - openCounted;
            Set<String> fwdExperts = new TreeSet<>(counting.experts);
            int layers = m.config().numLayers();
            String perLayer = fwdExperts.isEmpty() ? "0" : perLayer(fwdExperts, layers);
            System.out.printf("| %s | %s | %s | %s | %.2f | %.3f | %.3f | %s | %.3f | %.3f | %.0f |%n",
                    dir.getFileName(), budget, m.weights().streaming() ? "streamed" : "kept", workload,
                    secs, openCounted / 1e9, openDisk / 1e9,
                    m.weights().streaming() ? perLayer : "all " + openExperts + " at open",
                    fwdCounted / 1e9, fwdDisk / 1e9, BenchTable.procStatusMiB("VmHWM"));
        }
    }

    /** The experts read per layer, as "a + b" over the layers. */
    private static String perLayer(Set<String> experts, int layers) {
        int[] n = new int[layers];
        for (String e : experts) {
            n[Integer.parseInt(e.substring(0, e.indexOf('.')))]++;
        }
        return String.join(" + ", java.util.Arrays.stream(n).mapToObj(Integer::toString).toList());
    }

    /** Bytes this process has caused to be read from storage ({@code read_bytes} of /proc/self/io). */
    private static long readBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
                if (line.startsWith("read_bytes:")) {
                    return Long.parseLong(line.substring("read_bytes:".length()).trim());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("/proc/self/io has no read_bytes");
    }
}
