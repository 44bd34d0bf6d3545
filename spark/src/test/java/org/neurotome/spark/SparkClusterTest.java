package org.neurotome.spark;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sweep against a real standalone cluster, a master and two workers started by
 * {@code scripts/spark-cluster} from the engine's jars: the same rows as the local engine, and
 * an executor killed while its unit runs has the unit run again, every row kept. The cluster is
 * stopped after the tests, however they end.
 */
@Tag("slow")
class SparkClusterTest {
    @TempDir
    static Path tmp;
    static String master;
    static String port;

    @BeforeAll
    static void start() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            port = Integer.toString(s.getLocalPort());
        }
        // the master URL is the script's standard output; what it says while it builds the
        // engine's jar (a clean checkout has none yet) goes to its standard error
        Process p = script("start").redirectErrorStream(false)
                .redirectOutput(tmp.resolve("start.txt").toFile())
                .redirectError(tmp.resolve("start-err.txt").toFile()).start();
        boolean ended = p.waitFor(600, TimeUnit.SECONDS);
        if (!ended || p.exitValue() != 0) {
            p.destroyForcibly();
            stop();
            throw new AssertionError("scripts/spark-cluster start failed: " + Files.readString(tmp.resolve("start.txt"))
                    + Files.readString(tmp.resolve("start-err.txt")));
        }
        master = Files.readString(tmp.resolve("start.txt")).strip();
        assertTrue(master.matches("spark://127\\.0\\.0\\.1:\\d+"), "the script printed the master URL alone: " + master);
    }

    @AfterAll
    static void stop() throws Exception {
        script("stop").start().waitFor(60, TimeUnit.SECONDS);
    }

    private static ProcessBuilder script(String command) {
        ProcessBuilder b = new ProcessBuilder("scripts/spark-cluster", command).redirectErrorStream(true);
        b.environment().put("NEUROTOME_SPARK_PORT", port);
        b.environment().put("NEUROTOME_SPARK_WORKER_MEMORY", "1g");
        return b;
    }

    @Test
    void theClusterGivesTheLocalEnginesRows() throws Exception {
        SweepRun local = SweepRun.gender(tmp.resolve("local").toString());
        assertEquals(0, local.code(), local.err());
        SweepRun cluster = SweepRun.gender(tmp.resolve("cluster").toString(), "--engine", "spark", "--master", master);
        assertEquals(0, cluster.code(), cluster.err());
        assertEquals(local.rows(), cluster.rows());
    }

    @Test
    void anExecutorKilledMidUnitHasItsUnitRunAgain() throws Exception {
        Thread killer = new Thread(() -> killOneExecutorOnceItRuns(tmp.resolve("killed")));
        killer.start();
        SweepRun r = SweepRun.gender(tmp.resolve("killed").toString(), "--engine", "spark", "--master", master);
        killer.join();
        assertEquals(0, r.code(), r.err());
        assertEquals(2, r.rows().size());
        for (var row : r.rows()) {
            assertTrue(row.has("model_sha256"), "every unit finished: " + row);
        }
        assertTrue(Files.readString(tmp.resolve("killed.txt")).startsWith("killed"), "an executor was killed");
    }

    /** Kills (SIGKILL) an executor JVM of this cluster's workers once the sweep's units are being written. */
    private static void killOneExecutorOnceItRuns(Path sweep) {
        long deadline = System.nanoTime() + 120_000_000_000L;
        try {
            List<Long> workers = List.of(pid("worker-1"), pid("worker-2"));
            while (System.nanoTime() < deadline) {
                boolean writing = Files.isDirectory(sweep.resolve("units"));
                for (long w : workers) {
                    var executor = ProcessHandle.of(w).stream().flatMap(ProcessHandle::children).findFirst();
                    if (writing && executor.isPresent()) {
                        Thread.sleep(300);
                        executor.get().destroyForcibly();
                        Files.writeString(tmp.resolve("killed.txt"), "killed " + executor.get().pid());
                        return;
                    }
                }
                Thread.sleep(50);
            }
            Files.writeString(tmp.resolve("killed.txt"), "no executor seen");
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long pid(String name) throws IOException {
        return Long.parseLong(Files.readString(Path.of("target/spark-cluster", name + ".pid")).strip());
    }
}
