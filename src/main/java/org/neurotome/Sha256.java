package org.neurotome;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

/** SHA-256 as lowercase hex, the hash every neurotome output records for provenance (FIPS 180-4). */
public final class Sha256 {
    private Sha256() {
    }

    public static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }

    public static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    /** The hash of a file, streamed through a direct buffer (the file may be larger than memory). */
    public static String hex(Path file) throws IOException {
        MessageDigest digest = digest();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 22);
            while (ch.read(buf) >= 0) {
                buf.flip();
                digest.update(buf);
                buf.clear();
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /**
     * The hashes of {@code files}, in their order, computed on as many threads as there are
     * processors (at most one per file), the largest files first: one file's hash is sequential,
     * so a sharded checkpoint is hashed about as many times faster as there are cores to spare.
     */
    public static List<String> hexAll(List<Path> files) throws IOException {
        if (files.isEmpty()) {
            return List.of();
        }
        long[] sizes = new long[files.size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = java.nio.file.Files.size(files.get(i));
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(files.size(),
                Runtime.getRuntime().availableProcessors()), Thread.ofPlatform().name("sha256").daemon().factory());
        try {
            List<Future<String>> hashes = new ArrayList<>(java.util.Collections.nCopies(files.size(), null));
            for (int i : IntStream.range(0, files.size()).boxed()
                    .sorted(Comparator.comparingLong((Integer k) -> sizes[k]).reversed()).toList()) {
                Path f = files.get(i);
                hashes.set(i, pool.submit(() -> hex(f)));
            }
            List<String> out = new ArrayList<>();
            for (Future<String> h : hashes) {
                out.add(h.get());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while hashing");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
    }
}
