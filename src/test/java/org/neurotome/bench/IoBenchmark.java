package org.neurotome.bench;

import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;
import org.neurotome.checkpoint.TensorInfo;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Checkpoint I/O throughput on a ~2 GiB F16 checkpoint (two shards) from page cache: raw
 * mapped reads, reads widened to float32, a byte-for-byte copy through the atomic writer
 * (SHA-256 included), and the copy's peak RSS measured in a fresh JVM.
 * Usage: {@code scripts/bench IoBenchmark [dir]} (default {@code bench-data/io}).
 */
public final class IoBenchmark {
    private static final int TENSORS = 32;
    private static final long ELEMENTS = 32L * 1024 * 1024; // per tensor: 64 MiB of F16

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("copy-child")) {
            copyChild(Path.of(args[1]));
            return;
        }
        Path dir = Path.of(args.length > 0 ? args[0] : "bench-data/io");
        Path src = dir.resolve("source");
        if (!Files.exists(src.resolve(Checkpoint.INDEX))) {
            generate(src);
        }
        BenchTable table = new BenchTable("operation", "GiB", "seconds", "GB/s", "peak RSS MiB");
        try (Checkpoint ck = Checkpoint.open(src)) {
            long bytes = ck.tensors().values().stream().mapToLong(TensorInfo::byteLength).sum();
            double gib = bytes / (double) (1L << 30);
            readRaw(ck); // warm the page cache
            long t0 = System.nanoTime();
            long sum = readRaw(ck);
            double raw = seconds(t0);
            table.row("read mapped bytes", gib, raw, bytes / raw / 1e9, "-");
            t0 = System.nanoTime();
            double check = 0;
            for (String name : ck.tensors().keySet()) {
                check += ck.floats(name)[0];
            }
            double widen = seconds(t0);
            table.row("read widened to F32", gib, widen, bytes / widen / 1e9, "-");
            if (sum == 42 && check == 42) {
                System.out.println(); // keeps the reads from being optimised away
            }
        }
        Path copy = dir.resolve("copy");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                IoBenchmark.class.getName(), "copy-child", dir.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("copy child failed: " + out);
        }
        String[] f = out.split(" ");
        double gib = Double.parseDouble(f[0]);
        double secs = Double.parseDouble(f[1]);
        table.row("copy via writer (+SHA-256), fresh JVM", gib, secs, gib * (1L << 30) / secs / 1e9, f[2]);
        // baseline in the same run: coreutils cp of the same shard files (no hashing, no validation)
        Path cpDir = dir.resolve("cp-baseline");
        Files.createDirectories(cpDir);
        long t0 = System.nanoTime();
        List<String> cmd = new ArrayList<>(List.of("cp"));
        try (var files = Files.list(src)) {
            files.filter(x -> x.toString().endsWith(".safetensors")).forEach(x -> cmd.add(x.toString()));
        }
        cmd.add(cpDir.toString());
        if (new ProcessBuilder(cmd).inheritIO().start().waitFor() != 0) {
            throw new IllegalStateException("cp failed");
        }
        double cp = seconds(t0);
        table.row("baseline: cp of the shard files", gib, cp, gib * (1L << 30) / cp / 1e9, "-");
        CheckpointWriterAccess.delete(cpDir);
        table.print();
        CheckpointWriterAccess.delete(copy);
    }

    private static void copyChild(Path dir) {
        Path src = dir.resolve("source");
        try (Checkpoint ck = Checkpoint.open(src)) {
            long bytes = ck.tensors().values().stream().mapToLong(TensorInfo::byteLength).sum();
            List<OutputTensor> ts = ck.tensors().keySet().stream().map(n -> OutputTensor.copyOf(ck, n)).toList();
            long t0 = System.nanoTime();
            new CheckpointWriter(1L << 30, Map.of(), true).write(dir.resolve("copy"), ts, Map.of());
            double secs = seconds(t0);
            System.out.printf("%.3f %.3f %.0f%n", bytes / (double) (1L << 30), secs, BenchTable.procStatusMiB("VmHWM"));
        }
    }

    private static long readRaw(Checkpoint ck) {
        long sum = 0;
        for (String name : ck.tensors().keySet()) {
            MemorySegment s = ck.bytes(name);
            long n = s.byteSize() / 8;
            for (long i = 0; i < n; i++) {
                sum += s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
            }
        }
        return sum;
    }

    private static void generate(Path src) throws IOException {
        List<OutputTensor> ts = new ArrayList<>();
        for (int i = 0; i < TENSORS; i++) {
            int seed = i;
            ts.add(new OutputTensor("layers." + i + ".weight", DType.F16, new long[] {ELEMENTS / 4096, 4096}, out -> {
                byte[] chunk = new byte[1 << 20];
                for (long off = 0; off < ELEMENTS * 2; off += chunk.length) {
                    for (int j = 0; j < chunk.length; j += 2) {
                        chunk[j] = (byte) (j * 7 + seed);
                        chunk[j + 1] = (byte) 0x3c; // F16 values near 1.0
                    }
                    out.write(chunk);
                }
            }));
        }
        new CheckpointWriter(1L << 30, Map.of("format", "pt"), true).write(src, ts,
                Map.of(Checkpoint.CONFIG, "{\"model_type\": \"synthetic\"}".getBytes()));
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Deletes the benchmark's copy directory. */
    private static final class CheckpointWriterAccess {
        static void delete(Path dir) throws IOException {
            try (var walk = Files.walk(dir)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}
