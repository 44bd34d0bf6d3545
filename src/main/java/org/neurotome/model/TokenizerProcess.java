package org.neurotome.model;

import org.neurotome.NeurotomeException;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The tokenizers library at arm's length: every load, encode and decode runs in one child
 * process ({@link TokenizerHost}) shared by the tokenizers this JVM opens, so that an input on
 * which the native library aborts (a Rust panic: a {@code tokenizer.json} regular expression
 * that backtracks past the regex engine's limit, for one) or runs without end costs that
 * process, not neurotome's. Either way the call fails with a BAD_CHECKPOINT error naming the
 * tokenizer file and what the library said, and the next call starts a fresh process.
 *
 * <p>A call that gets no answer within {@link #timeoutSeconds()} ends the process; an honest
 * call takes milliseconds.
 */
final class TokenizerProcess {
    /** The system property that sets {@link #timeoutSeconds()}. */
    static final String TIMEOUT_PROPERTY = "neurotome.tokenizer.timeout";
    /** How much of the process's standard error a refusal quotes. */
    private static final int STDERR_KEPT = 4096;
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tokenizer-watchdog");
        t.setDaemon(true);
        return t;
    });
    private static TokenizerProcess current;

    private final Process process;
    private final DataOutputStream out;
    private final DataInputStream in;
    private final StringBuilder stderr = new StringBuilder();
    private final Thread drain;
    private volatile boolean timedOut;

    private TokenizerProcess(Process process) {
        this.process = process;
        this.out = new DataOutputStream(new BufferedOutputStream(process.getOutputStream()));
        this.in = new DataInputStream(new BufferedInputStream(process.getInputStream()));
        this.drain = new Thread(() -> drain(process.getErrorStream()), "tokenizer-stderr");
        drain.setDaemon(true);
        drain.start();
    }

    /** Tokenizer {@code file}, loaded as {@code handle} in process {@code owner} (loaded again when that one ended). */
    static final class Handle {
        private final Path file;
        private TokenizerProcess owner;
        private int handle;

        private Handle(Path file) {
            this.file = file;
        }

        Path file() {
            return file;
        }
    }

    /** Loads {@code file} in the shared process (started when none runs). */
    static synchronized Handle load(Path file) {
        Handle h = new Handle(file);
        reload(h);
        return h;
    }

    private static void reload(Handle h) {
        TokenizerProcess p = running(h.file);
        h.handle = p.call(h.file, "loading it", o -> o.writeUTF(h.file.toAbsolutePath().toString()),
                TokenizerHost.LOAD, DataInputStream::readInt);
        h.owner = p;
    }

    /** The ids of {@code text}, with the post-processor's special tokens when {@code special}. */
    static synchronized long[] encode(Handle h, String text, boolean special) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        return live(h).owner.call(h.file, "encoding a text of " + text.length() + " characters", o -> {
            o.writeInt(h.handle);
            o.writeBoolean(special);
            o.writeInt(bytes.length);
            o.write(bytes);
        }, TokenizerHost.ENCODE, i -> {
            long[] ids = new long[i.readInt()];
            for (int k = 0; k < ids.length; k++) {
                ids[k] = i.readLong();
            }
            return ids;
        });
    }

    /** The text of {@code ids}, special tokens left out when {@code skipSpecial}. */
    static synchronized String decode(Handle h, long[] ids, boolean skipSpecial) {
        return live(h).owner.call(h.file, "decoding " + ids.length + " ids", o -> {
            o.writeInt(h.handle);
            o.writeBoolean(skipSpecial);
            o.writeInt(ids.length);
            for (long id : ids) {
                o.writeLong(id);
            }
        }, TokenizerHost.DECODE, i -> new String(i.readNBytes(i.readInt()), StandardCharsets.UTF_8));
    }

    /** Releases {@code h} in its process, if that process still runs. */
    static synchronized void close(Handle h) {
        if (h.owner == current && h.owner.process.isAlive()) {
            h.owner.call(h.file, "closing it", o -> o.writeInt(h.handle), TokenizerHost.CLOSE, i -> null);
        }
    }

    /** {@code h}, loaded afresh in a new process when its own has ended. */
    private static Handle live(Handle h) {
        if (h.owner != current || !h.owner.process.isAlive()) {
            reload(h);
        }
        return h;
    }

    private static TokenizerProcess running(Path file) {
        if (current == null || !current.process.isAlive()) {
            List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toString(), "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true", "-cp",
                    System.getProperty("java.class.path"), TokenizerHost.class.getName()));
            try {
                current = new TokenizerProcess(new ProcessBuilder(command).start());
            } catch (IOException e) {
                throw NeurotomeException.badCheckpoint(file + ": cannot start the tokenizer process: "
                        + NeurotomeException.reason(e));
            }
        }
        return current;
    }

    @FunctionalInterface
    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    @FunctionalInterface
    private interface Reader<T> {
        T read(DataInputStream in) throws IOException;
    }

    /**
     * Sends one request and reads its answer; a failure answer, a dead process or one past the
     * timeout is a BAD_CHECKPOINT error about {@code file} saying what was being done.
     */
    private <T> T call(Path file, String doing, Writer args, byte op, Reader<T> answer) {
        ScheduledFuture<?> watchdog = WATCHDOG.schedule(() -> {
            timedOut = true;
            process.destroyForcibly();
        }, timeoutSeconds(), TimeUnit.SECONDS);
        try {
            out.writeByte(op);
            args.write(out);
            out.flush();
            byte status = in.readByte();
            if (status == TokenizerHost.FAILED) {
                throw NeurotomeException.badCheckpoint(file + ": the tokenizer library failed " + doing + ": "
                        + in.readUTF());
            }
            if (status != TokenizerHost.OK) {
                throw new IOException("answer out of step"); // the process is ended below, the next call starts afresh
            }
            return answer.read(in);
        } catch (IOException e) {
            process.destroyForcibly();
            throw NeurotomeException.badCheckpoint(file + ": " + death(doing));
        } finally {
            watchdog.cancel(false);
        }
    }

    /** The longest one call may take before the process is ended and the call refused: 60 s unless the property says. */
    static long timeoutSeconds() {
        return Long.getLong(TIMEOUT_PROPERTY, 60);
    }

    /** Why the process ended, from its exit and the last line its native library wrote. */
    private String death(String doing) {
        try {
            process.waitFor(5, TimeUnit.SECONDS);
            drain.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (timedOut) {
            return "the tokenizer library gave no answer within " + timeoutSeconds() + " s " + doing
                    + " (a regular expression in the file that backtracks without end?)";
        }
        String said;
        synchronized (stderr) {
            said = stderr.toString().lines().map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("WARNING:") && !l.startsWith("note:")
                            && !l.matches("\\d+: .*") && !l.startsWith("at ") && !l.startsWith("stack backtrace")
                            && !l.contains("panicked at") && !l.startsWith("fatal runtime error"))
                    .reduce((a, b) -> a + "; " + b).orElse("");
        }
        String exit = process.isAlive() ? "" : " (exit " + process.exitValue() + ")";
        return "the tokenizer library aborted " + doing + exit + (said.isEmpty() ? "" : ": " + said);
    }

    private void drain(InputStream err) {
        byte[] buffer = new byte[4096];
        try (err) {
            for (int n; (n = err.read(buffer)) >= 0; ) {
                synchronized (stderr) {
                    stderr.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
                    if (stderr.length() > STDERR_KEPT) {
                        stderr.delete(0, stderr.length() - STDERR_KEPT);
                    }
                }
            }
        } catch (IOException e) {
            // the process is gone; what it wrote so far is kept
        }
    }
}
