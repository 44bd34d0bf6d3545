package org.neurotome.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark engine on {@code local[2]}: DJL and libtorch run inside Spark tasks on this JDK, and
 * the sweep's rows (metrics, gates, model SHA-256) and units are those of the local engine; a
 * master that does not answer is one line and exit 2, at once.
 */
class SparkEngineTest {
    @TempDir
    Path tmp;

    @Test
    void localTwoGivesTheLocalEnginesRows() throws Exception {
        SweepRun local = SweepRun.gender(tmp.resolve("local").toString());
        assertEquals(0, local.code(), local.err());
        SweepRun spark = SweepRun.gender(tmp.resolve("spark").toString(), "--engine", "spark", "--master", "local[2]");
        assertEquals(0, spark.code(), spark.err());
        assertTrue(spark.err().contains("spark: 2 units on local[2]"), spark.err());
        assertEquals(2, spark.rows().size());
        assertEquals(local.rows(), spark.rows());
        // two variants, their shared ranking and their shared baseline, each run once in either engine
        assertEquals(4, spark.units().get("run").asInt(), spark.err());
        assertEquals(local.units(), spark.units());
    }

    @Test
    void anUnreachableMasterIsOneLine() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String master = "spark://127.0.0.1:" + port;
        long t0 = System.nanoTime();
        SweepRun r = SweepRun.gender(tmp.resolve("none").toString(), "--engine", "spark", "--master", master);
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: --master " + master + ": cannot reach the Spark master"), r.err());
        assertTrue(System.nanoTime() - t0 < 60_000_000_000L, "refused before Spark's own retries");
    }
}
