package org.neurotome.bench;

import org.neurotome.FileTree;
import org.neurotome.archive.ArchiveCache;
import org.neurotome.archive.ArchiveFormat;
import org.neurotome.archive.ArchiveWriter;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.OutputTensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Archive throughput on a 1 GiB BF16 checkpoint (16 tensors of weights drawn from N(0, 0.02²),
 * as trained weights look to a compressor) from page cache: neurotome's reproducible writer
 * against GNU tar on the same files at the same levels ({@code tar -cf}; gzip -1 through
 * {@code tar --use-compress-program}, and gzip's default -6 once for scale; {@code tar --zstd},
 * i.e. zstd -3), each followed by {@code sync} of the archive as neurotome flushes its archive
 * before the rename, and neurotome's checked unpack into its cache (SHA-256 of the archive, every
 * entry checked, the stream's own checksums) against {@code tar -x} of the same archives, in the
 * same run: each side's best of two rounds, run in the order neurotome, tar, tar, neurotome,
 * each after a {@code sync}. Usage: {@code scripts/bench ArchiveBenchmark [dir]}
 * (default {@code bench-data/archive}; the checkpoint is generated there on first use).
 */
public final class ArchiveBenchmark {
    private static final int TENSORS = 16;
    private static final long ELEMENTS = 32L * 1024 * 1024; // per tensor: 64 MiB of BF16

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "bench-data/archive").toAbsolutePath();
        Path src = dir.resolve("checkpoint");
        if (!Files.exists(src.resolve(Checkpoint.SINGLE))) {
            generate(src);
        }
        long bytes = 0;
        try (var files = Files.list(src)) {
            for (Path f : files.toList()) {
                bytes += Files.size(f);
            }
        }
        double gib = bytes / (double) (1L << 30);
        Path out = Files.createDirectories(dir.resolve("out"));
        System.setProperty(ArchiveCache.DIR_PROPERTY, dir.resolve("cache").toString());
        run(dir, "cat", src.resolve(Checkpoint.SINGLE).toString()); // into page cache

        BenchTable table = new BenchTable("operation", "format", "archive MiB", "best of 2, s", "GiB/s",
                "neurotome / GNU tar time");
        for (ArchiveFormat format : ArchiveFormat.values()) {
            Path ours = out.resolve("neurotome" + format.extension());
            Path theirs = out.resolve("gnu" + format.extension());
            double write = Double.MAX_VALUE;
            double baseline = Double.MAX_VALUE;
            // four rounds in the order neurotome, tar, tar, neurotome, each from a disk with nothing
            // left to flush, each side's best kept
            for (int round = 0; round < 4; round++) {
                boolean neurotome = round == 0 || round == 3;
                Files.deleteIfExists(neurotome ? ours : theirs);
                run(dir, "sync");
                long t0 = System.nanoTime();
                if (neurotome) {
                    ArchiveWriter.write(src, format, ours, false);
                    write = Math.min(write, seconds(t0));
                } else {
                    run(dir, "tar", "-c", "-f", theirs.toString(), compressFlag(format), "-C", src.toString(), ".");
                    run(dir, "sync", theirs.toString()); // neurotome flushes the archive to disk before renaming it
                    baseline = Math.min(baseline, seconds(t0));
                }
            }
            table.row("write: neurotome", format.id(), mib(ours), write, gib / write, String.format("%.2f", write / baseline));
            table.row("write: GNU tar " + compressFlag(format) + " + sync", format.id(), mib(theirs), baseline, gib / baseline, "");
            if (format == ArchiveFormat.TAR_GZ) {
                Path gzip6 = out.resolve("gnu-default.tar.gz");
                run(dir, "sync");
                long t0 = System.nanoTime();
                run(dir, "tar", "-c", "-z", "-f", gzip6.toString(), "-C", src.toString(), ".");
                run(dir, "sync", gzip6.toString());
                double d = seconds(t0);
                table.row("write: GNU tar -z (gzip -6) + sync, once", format.id(), mib(gzip6), d, gib / d, "");
                Files.delete(gzip6);
            }

            double read = Double.MAX_VALUE;
            double extract = Double.MAX_VALUE;
            double again = Double.MAX_VALUE;
            Path x = out.resolve("x");
            for (int round = 0; round < 4; round++) {
                boolean neurotome = round == 0 || round == 3;
                FileTree.delete(ArchiveCache.root());
                FileTree.delete(x);
                Files.createDirectories(x);
                run(dir, "sync");
                long t0 = System.nanoTime();
                if (neurotome) {
                    // a fresh name each time, so nothing of the earlier round is found again
                    Path renamed = out.resolve("round" + round + format.extension());
                    Files.move(ours, renamed);
                    ours = renamed;
                    t0 = System.nanoTime();
                    Path unpacked = ArchiveCache.directoryOf(ours);
                    read = Math.min(read, seconds(t0));
                    if (!Files.isRegularFile(unpacked.resolve(Checkpoint.SINGLE))) {
                        throw new IllegalStateException("unpacked checkpoint incomplete: " + unpacked);
                    }
                    t0 = System.nanoTime();
                    ArchiveCache.directoryOf(ours);
                    again = Math.min(again, seconds(t0));
                } else {
                    run(dir, "tar", "-x", "-f", theirs.toString(), compressFlag(format), "-C", x.toString());
                    extract = Math.min(extract, seconds(t0));
                }
            }
            FileTree.delete(x);
            table.row("read: neurotome (hash, check, unpack)", format.id(), mib(ours), read, gib / read,
                    String.format("%.2f", read / extract));
            table.row("read: GNU tar -x " + compressFlag(format), format.id(), mib(theirs), extract, gib / extract, "");
            table.row("read again: neurotome (cache hit)", format.id(), mib(ours), again, gib / again, "");
            FileTree.delete(ArchiveCache.root());
            Files.delete(ours);
            Files.delete(theirs);
        }
        System.out.printf("%.2f GiB checkpoint, %d cores%n%n", gib, Runtime.getRuntime().availableProcessors());
        table.print();
    }

    private static String compressFlag(ArchiveFormat format) {
        return switch (format) {
            case TAR -> "--no-auto-compress";
            case TAR_GZ -> "--use-compress-program=gzip -1";
            case TAR_ZST -> "--zstd";
        };
    }

    private static void generate(Path src) throws IOException {
        List<OutputTensor> ts = new ArrayList<>();
        for (int i = 0; i < TENSORS; i++) {
            long seed = i;
            ts.add(new OutputTensor("model.layers." + i + ".mlp.weight", DType.BF16, new long[] {ELEMENTS / 4096, 4096}, o -> {
                SplittableRandom random = new SplittableRandom(seed);
                byte[] chunk = new byte[1 << 20];
                for (long off = 0; off < ELEMENTS * 2; off += chunk.length) {
                    for (int j = 0; j < chunk.length; j += 2) {
                        int bits = Float.floatToRawIntBits((float) (random.nextGaussian() * 0.02));
                        int bf16 = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16; // round to nearest even
                        chunk[j] = (byte) bf16;
                        chunk[j + 1] = (byte) (bf16 >>> 8);
                    }
                    o.write(chunk);
                }
            }));
        }
        new CheckpointWriter(Long.MAX_VALUE, Map.of("format", "pt"), true).write(src, ts,
                Map.of(Checkpoint.CONFIG, "{\"model_type\": \"synthetic\"}\n".getBytes()));
    }

    private static void run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed");
        }
    }

    private static String mib(Path file) throws IOException {
        return String.format("%.0f", Files.size(file) / (double) (1 << 20));
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
