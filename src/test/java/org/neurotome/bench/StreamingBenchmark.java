package org.neurotome.bench;

import ai.djl.Device;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.model.ForwardRequest;
import org.neurotome.model.ForwardResult;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.TensorSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A streamed forward against its floor, in one JVM: the floor is reading and widening to
 * float32 every tensor the forward reads (every layer, the final norm and the unembedding; the
 * embedding table is only gathered row by row), once, through the same source and into one
 * reused buffer; the forward runs 8 tokens through the model opened under a memory budget
 * small enough to stream it. Rounds alternate floor and forward; the table gives each round
 * and the best of each. With {@code cold}, the checkpoint's files are dropped from the page
 * cache ({@code dd iflag=nocache}) before each measurement, so both read from disk. Usage:
 * {@code scripts/bench StreamingBenchmark DIR [BUDGET] [ROUNDS] [hot|cold]}.
 */
public final class StreamingBenchmark {
    private StreamingBenchmark() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        String budget = args.length > 1 ? args[1] : "4g";
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        boolean cold = args.length > 3 && args[3].equals("cold");
        int[] ids = {1, 450, 4996, 310, 3444, 338, 3681, 29889};
        BenchTable table = new BenchTable("round", "floor: read + widen s", "GB read", "streamed forward (8 tokens) s",
                "forward / floor");
        double[] floors = new double[rounds];
        double[] forwards = new double[rounds];
        long bytes = 0;
        for (int r = 0; r < rounds; r++) {
            if (cold) {
                evict(dir);
            }
            long t0 = System.nanoTime();
            bytes = floor(dir);
            floors[r] = (System.nanoTime() - t0) / 1e9;
            if (cold) {
                evict(dir);
            }
            t0 = System.nanoTime();
            try (LanguageModel m = LanguageModel.open(dir, Device.cpu(), MemoryBudget.parse(budget));
                 ForwardResult fr = m.transformer().forward(ForwardRequest.tokens(ids))) {
                if (!m.weights().streaming()) {
                    throw new IllegalStateException("the model is not streamed under " + budget);
                }
                fr.lastLogits(0);
            }
            forwards[r] = (System.nanoTime() - t0) / 1e9;
            table.row(r + 1, floors[r], bytes / 1e9, forwards[r], forwards[r] / floors[r]);
        }
        double f = Arrays.stream(floors).min().orElseThrow();
        double w = Arrays.stream(forwards).min().orElseThrow();
        table.row("best", f, bytes / 1e9, w, w / f);
        System.out.println(cold ? "page cache dropped before each measurement" : "checkpoint in the page cache");
        table.print();
        System.out.printf("peak RSS %.0f MiB%n", BenchTable.procStatusMiB("VmHWM"));
    }

    /** Drops the checkpoint's files from the page cache. */
    static void evict(Path dir) {
        try (var files = java.nio.file.Files.list(dir)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".safetensors")).toList()) {
                Process p = new ProcessBuilder("dd", "if=" + f, "iflag=nocache", "count=0", "status=none").start();
                if (p.waitFor() != 0) {
                    throw new IllegalStateException("dd could not drop " + f + " from the page cache");
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Reads and widens every tensor but the embedding table once; returns the stored bytes read. */
    private static long floor(Path dir) {
        long bytes = 0;
        try (Checkpoint ckpt = Checkpoint.open(dir); Arena arena = Arena.ofConfined()) {
            TensorSource source = TensorSource.of(ckpt);
            long largest = ckpt.tensors().values().stream().mapToLong(TensorInfo::numel).max().orElseThrow();
            MemorySegment buffer = arena.allocate(4 * largest, 64);
            for (TensorInfo t : ckpt.tensors().values()) {
                if (t.name().endsWith("embed_tokens.weight")) {
                    continue;
                }
                source.read(t.name(), 0, t.numel(), buffer);
                bytes += t.byteLength();
            }
        }
        return bytes;
    }
}
