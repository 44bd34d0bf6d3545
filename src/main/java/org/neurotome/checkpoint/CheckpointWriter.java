package org.neurotome.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;
import org.neurotome.output.OutputLock;
import org.neurotome.Scratch;
import org.neurotome.Sha256;
import org.neurotome.Shutdown;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a Hugging Face checkpoint directory atomically: tensors go into
 * {@code model.safetensors}, or into {@code model-0000i-of-0000n.safetensors} shards with
 * a {@code model.safetensors.index.json} when they exceed the maximum shard size (the
 * layout of {@code transformers}' {@code save_pretrained}). Headers are padded with spaces
 * to an 8-byte boundary and carry {@code __metadata__}. Everything is written into a
 * hidden partial directory beside the output ({@link Scratch}), re-opened to verify, and only
 * then renamed into place, so a failed run leaves nothing that looks like a finished checkpoint
 * (a partial directory is removed on failure, on SIGTERM/SIGINT, and — left by a killed
 * process — by the next write). A caller with more to add (a recipe run's eval reports, model
 * card and archive) {@link #stage stages} the checkpoint and commits it when all is done. The
 * output is checked by an {@link OutputGuard} and written under its {@link OutputLock}.
 */
public final class CheckpointWriter {
    private final long maxShardBytes;
    private final Map<String, String> metadata;
    private final boolean force;
    /** The name of an unsharded output's one tensor file. */
    private String tensorFile = Checkpoint.SINGLE;
    /** Null when the caller vouches for the output (tests, benchmarks): then only existence without force is refused. */
    private OutputGuard guard;
    /** When set, the shard each tensor goes to, by the name of an input shard (the output is sharded like the input). */
    private Map<String, String> shardOf;
    /** Files copied into the output as they are, by their name there. */
    private Map<String, Path> copied = Map.of();

    /**
     * @param maxShardBytes shard size limit (a tensor larger than it gets a shard of its own)
     * @param metadata      written into every shard's {@code __metadata__}
     * @param force         replace an existing output directory
     */
    public CheckpointWriter(long maxShardBytes, Map<String, String> metadata, boolean force) {
        if (maxShardBytes <= 0) {
            throw NeurotomeException.badInput("max shard size must be positive, got " + maxShardBytes);
        }
        this.maxShardBytes = maxShardBytes;
        this.metadata = new LinkedHashMap<>(metadata);
        this.force = force;
    }

    /**
     * This writer, naming an unsharded output's tensor file {@code name} rather than
     * {@code model.safetensors} (a PEFT adapter's {@code adapter_model.safetensors}).
     */
    public CheckpointWriter tensorFile(String name) {
        this.tensorFile = name;
        return this;
    }

    /**
     * This writer, checking its output with {@code guard} (see {@link OutputGuard#checkpointDirectory}):
     * never an input or the working directory, and only an earlier neurotome output replaced.
     */
    public CheckpointWriter protecting(OutputGuard guard) {
        this.guard = guard;
        return this;
    }

    /**
     * This writer, sharding as an input checkpoint is sharded: one output shard per input shard,
     * holding the same tensors ({@code shardOf}: tensor name → input shard file name); the
     * size limit is then not used.
     */
    public CheckpointWriter shardLike(Map<String, String> shardOf) {
        this.shardOf = Map.copyOf(shardOf);
        return this;
    }

    /**
     * This writer, also copying {@code files} (name in the output → file to copy) into the
     * output, streamed and hashed as they are (an input's tokenizer, licence, ...).
     */
    public CheckpointWriter copying(Map<String, Path> files) {
        this.copied = Map.copyOf(files);
        return this;
    }

    /** A file written last, whose content depends on the hashes of all the others. */
    public record LastFile(String name, java.util.function.Function<Map<String, String>, byte[]> content) {
    }

    /** What was written: each file's SHA-256 by file name. */
    public record Written(Path dir, Map<String, String> sha256) {
    }

    /**
     * A checkpoint written and verified in its partial directory {@link #dir()}, not yet in
     * place: the caller may add files (eval reports) and then {@link #commit()} it; closed
     * without a commit, the partial is removed and the output left as it was. It holds the
     * output's lock until closed.
     */
    public static final class Staged implements AutoCloseable {
        private final Path out;
        private final Scratch partial;
        private final Map<String, String> sha256;
        private final OutputLock lock;

        private Staged(Path out, Scratch partial, Map<String, String> sha256, OutputLock lock) {
            this.out = out;
            this.partial = partial;
            this.sha256 = sha256;
            this.lock = lock;
        }

        /** The partial directory, where the checkpoint is until committed. */
        public Path dir() {
            return partial.path();
        }

        /** The output directory it replaces when committed. */
        public Path out() {
            return out;
        }

        /** The SHA-256 of each file the writer wrote, by name (the last file's excluded). */
        public Map<String, String> sha256() {
            return sha256;
        }

        /** Renames the partial directory into place, replacing an earlier output. */
        public Written commit() {
            try {
                partial.moveTo(out);
            } catch (IOException e) {
                throw NeurotomeException.outputFailed(out + ": cannot move the finished output into place: "
                        + NeurotomeException.reason(e), e);
            }
            return new Written(out, sha256);
        }

        @Override
        public void close() {
            try {
                partial.close();
            } finally {
                lock.close();
            }
        }
    }

    /**
     * Writes {@code tensors} (in the given order) and {@code files} (name → content, e.g.
     * config.json and tokenizer files) to {@code out}.
     */
    public Written write(Path out, List<OutputTensor> tensors, Map<String, byte[]> files) {
        return write(out, tensors, files, null);
    }

    /**
     * As {@link #write(Path, List, Map)}, then {@code lastFile} (e.g. a manifest) is computed
     * from the SHA-256 of everything written so far and added before the directory is renamed
     * into place; its own hash is not part of the result.
     */
    public Written write(Path out, List<OutputTensor> tensors, Map<String, byte[]> files, LastFile lastFile) {
        try (Staged staged = stage(out, tensors, files, lastFile)) {
            return staged.commit();
        }
    }

    /**
     * As {@link #write(Path, List, Map, LastFile)}, but leaves the written checkpoint in its
     * partial directory for the caller to finish and commit.
     */
    public Staged stage(Path out, List<OutputTensor> tensors, Map<String, byte[]> files, LastFile lastFile) {
        out = check(out);
        OutputLock lock = OutputLock.acquire(out);
        try {
            // checked again under the lock: another run may have written it meanwhile
            check(out);
            return writeLocked(out, tensors, files, lastFile, lock);
        } catch (RuntimeException | Error e) {
            lock.close();
            throw e;
        }
    }

    private Path check(Path out) {
        if (guard != null) {
            return guard.checkpointDirectory(out, force);
        }
        Path abs = out.toAbsolutePath().normalize();
        if (Files.exists(abs, java.nio.file.LinkOption.NOFOLLOW_LINKS) && !force) {
            throw new NeurotomeException(org.neurotome.ExitCode.OUTPUT_FAILED, abs + ": already exists; pass --force to replace it");
        }
        return abs;
    }

    private Staged writeLocked(Path out, List<OutputTensor> tensors, Map<String, byte[]> files, LastFile lastFile,
                               OutputLock lock) {
        // shards are hashed on a second thread while the next one is written
        ExecutorService hasher = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("sha256").daemon().factory());
        Scratch partial = Scratch.directory(out, Scratch.PARTIAL);
        Path tmp = partial.path();
        try {
            Map<String, Future<String>> hashes = new LinkedHashMap<>();
            List<List<OutputTensor>> shards = planShards(tensors);
            if (shards.size() == 1) {
                writeShard(tmp.resolve(tensorFile), shards.getFirst());
                hashes.put(tensorFile, hasher.submit(() -> Sha256.hex(tmp.resolve(tensorFile))));
            } else {
                ObjectNode index = Json.MAPPER.createObjectNode();
                long total = tensors.stream().mapToLong(OutputTensor::byteLength).sum();
                index.putObject("metadata").put("total_size", total);
                ObjectNode weightMap = index.putObject("weight_map");
                for (int i = 0; i < shards.size(); i++) {
                    String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                    writeShard(tmp.resolve(name), shards.get(i));
                    Path shard = tmp.resolve(name);
                    hashes.put(name, hasher.submit(() -> Sha256.hex(shard)));
                    for (OutputTensor t : shards.get(i)) {
                        weightMap.put(t.name(), name);
                    }
                }
                byte[] indexBytes = (Json.pretty().writeValueAsString(index) + "\n").getBytes(StandardCharsets.UTF_8);
                hashes.put(Checkpoint.INDEX, CompletableFuture.completedFuture(writeFile(tmp.resolve(Checkpoint.INDEX), indexBytes)));
            }
            for (Map.Entry<String, Path> f : new TreeMap<>(copied).entrySet()) {
                if (!files.containsKey(f.getKey())) {
                    Path copy = tmp.resolve(f.getKey());
                    // streamed into a new file, whose mode follows the umask (not the input's)
                    try (InputStream in = Files.newInputStream(f.getValue())) {
                        Files.copy(in, copy);
                    }
                    hashes.put(f.getKey(), hasher.submit(() -> Sha256.hex(copy)));
                }
            }
            for (Map.Entry<String, byte[]> f : files.entrySet()) {
                hashes.put(f.getKey(), CompletableFuture.completedFuture(writeFile(tmp.resolve(f.getKey()), f.getValue())));
            }
            Map<String, String> sha = new LinkedHashMap<>();
            for (Map.Entry<String, Future<String>> h : hashes.entrySet()) {
                sha.put(h.getKey(), await(h.getValue()));
            }
            if (lastFile != null) {
                Files.write(tmp.resolve(lastFile.name()), lastFile.content().apply(Map.copyOf(sha)));
            }
            verify(tmp, tensors, tensorFile);
            return new Staged(out, partial, java.util.Collections.unmodifiableMap(sha), lock);
        } catch (IOException e) {
            hasher.shutdownNow();
            partial.close();
            throw NeurotomeException.outputFailed(out + ": cannot write: " + NeurotomeException.reason(e), e);
        } catch (RuntimeException | Error e) {
            hasher.shutdownNow();
            partial.close();
            throw e;
        } finally {
            hasher.shutdown();
        }
    }

    private static String await(Future<String> hash) throws IOException {
        try {
            return hash.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while hashing", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
    }

    private List<List<OutputTensor>> planShards(List<OutputTensor> tensors) {
        List<List<OutputTensor>> shards = new ArrayList<>();
        List<OutputTensor> current = new ArrayList<>();
        long size = 0;
        String file = null;
        for (OutputTensor t : tensors) {
            long n = t.byteLength();
            String from = shardOf == null ? null : shardOf.get(t.name());
            boolean next = shardOf != null ? from != null && file != null && !from.equals(file)
                    : !current.isEmpty() && size + n > maxShardBytes;
            file = from != null ? from : file;
            if (next) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += n;
        }
        shards.add(current);
        return shards;
    }

    private void writeShard(Path file, List<OutputTensor> tensors) throws IOException {
        byte[] header = header(tensors);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ShardSink sink = new ShardSink(ch);
            sink.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            sink.write(header);
            for (OutputTensor t : tensors) {
                long before = sink.count();
                t.body().writeTo(sink);
                if (sink.count() - before != t.byteLength()) {
                    throw new IllegalStateException("tensor '" + t.name() + "' produced " + (sink.count() - before)
                            + " bytes, expected " + t.byteLength());
                }
            }
        }
    }

    /** The JSON header, padded with spaces so the data section starts 8-byte aligned. */
    private byte[] header(List<OutputTensor> tensors) {
        ObjectNode h = Json.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = h.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (OutputTensor t : tensors) {
            ObjectNode e = h.putObject(t.name());
            e.put("dtype", t.dtype().name());
            var shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long end = offset + t.byteLength();
            e.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = Json.MAPPER.writeValueAsString(h).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] padded = java.util.Arrays.copyOf(json, (json.length + 7) / 8 * 8);
        java.util.Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    private static String writeFile(Path file, byte[] content) throws IOException {
        // a name may hold a folder (an adapter beside the model: adapter/adapter_config.json)
        Shutdown.createDirectories(file.getParent());
        Files.write(file, content);
        return Sha256.hex(content);
    }

    private static void verify(Path dir, List<OutputTensor> tensors, String tensorFile) {
        int count;
        if (tensorFile.equals(Checkpoint.SINGLE)) {
            try (Checkpoint written = Checkpoint.openTensorsOnly(dir)) {
                count = written.tensors().size();
            }
        } else {
            try (SafetensorsFile written = SafetensorsFile.open(dir.resolve(tensorFile))) {
                count = written.tensors().size();
            }
        }
        if (count != tensors.size()) {
            throw new IllegalStateException("wrote " + count + " tensors, expected " + tensors.size());
        }
    }
}
