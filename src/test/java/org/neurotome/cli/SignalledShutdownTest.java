package org.neurotome.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.testing.TestModels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * SIGTERM or SIGINT at any point of an {@code apply} (starting, reading, editing, training a
 * recovery adapter, writing) ends the JVM with 128 + the signal, never killed by a signal of
 * its own (a SIGSEGV inside libtorch is 139, an abort after the JVM's crash report 134), with
 * no crash report or core file, and removes its hidden working entries. The points are drawn
 * at random; the message names the seed and the delay of a failing try. The child starts with
 * SIGINT at its default action ({@code env --default-signal=INT}): a test run started from a
 * background job inherits SIGINT ignored, and the JVM then never sees the signal.
 */
class SignalledShutdownTest {
    private static final int TRIES = 8;

    @TempDir
    Path tmp;

    @Test
    void aSignalAtAnyPointEndsTheRunWithItsStatus() throws Exception {
        TestModels.copy(Path.of("checkpoints/fixture-llama"), tmp.resolve("model"));
        Files.writeString(tmp.resolve("recipe.yaml"), """
                model:
                  path: model
                edit:
                  - op: zero-heads
                    heads: [0.1]
                output:
                  dir: out
                recover:
                  corpus: arithmetic
                  target_modules: [q_proj]
                  rank: 2
                  steps: 100000
                  batch_size: 4
                """);
        long seed = System.nanoTime();
        Random random = new Random(seed);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (int i = 0; i < TRIES; i++) {
            boolean interrupt = i % 4 == 3;
            long delayMs = 300 + random.nextLong(6000);
            Process p = new ProcessBuilder("bash", "-c", "ulimit -c unlimited && exec env --default-signal=INT \"$0\" \"$@\"",
                    java, "-Dai.djl.offline=true", "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(), "apply", "recipe.yaml")
                    .directory(tmp.toFile()).redirectErrorStream(true).redirectOutput(tmp.resolve("log.txt").toFile())
                    .start();
            Thread.sleep(delayMs);
            String context = "seed " + seed + ", try " + i + ", signal after " + delayMs + " ms";
            if (!p.isAlive()) {
                throw new AssertionError(context + ": the run ended before the signal: "
                        + Files.readString(tmp.resolve("log.txt")));
            }
            new ProcessBuilder("kill", interrupt ? "-INT" : "-TERM", Long.toString(p.pid())).start().waitFor();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(context + ": still running 60 s after the signal: "
                        + Files.readString(tmp.resolve("log.txt")));
            }
            int status = p.exitValue();
            assertEquals(interrupt ? 130 : 143, status, context + ": " + Files.readString(tmp.resolve("log.txt")));
            try (Stream<Path> s = Files.list(tmp)) {
                assertEquals(List.of("log.txt", "model", "recipe.yaml"),
                        s.map(x -> x.getFileName().toString()).sorted().toList(),
                        context + ": no crash report, core file, working entry or output left");
            }
        }
    }
}
