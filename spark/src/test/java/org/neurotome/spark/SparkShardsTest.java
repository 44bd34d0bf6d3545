package org.neurotome.spark;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A sweep with a sharded step on the Spark engine: the shipped arithmetic head-ablation recipe
 * with its head scan in 2 shards ({@code shards: 2}), a grid of two values of
 * {@code select.0.top}, on {@code local[2]} gives the local engine's rows (metrics, gates, model
 * SHA-256) and units: each shard and the scan's merge computed once, by whichever task gets to it
 * first, and kept in the store.
 */
@Tag("slow")
class SparkShardsTest {
    @TempDir
    Path tmp;

    @Test
    void aShardedHeadScanGivesTheLocalEnginesRowsOnLocalTwo() throws Exception {
        String root = Path.of("").toAbsolutePath() + "/";
        String text = Files.readString(Path.of("recipes/arith-head-ablation.yaml")).replace("../", root);
        String top = "    top: 10              # keep the ten most damaging heads in findings.json\n";
        assertTrue(text.contains(top), "the shipped recipe's head scan keeps its top 10");
        Path recipe = tmp.resolve("arith-shards.yaml");
        Files.writeString(recipe, text.replace(top, top + "    shards: 2\n"));
        String grid = "select.0.top=1,2";
        SweepRun local = SweepRun.of(recipe.toString(), tmp.resolve("local").toString(), grid);
        assertTrue(local.code() == 0 || local.code() == 1, local.err());
        SweepRun spark = SweepRun.of(recipe.toString(), tmp.resolve("spark").toString(), grid, "--engine", "spark",
                "--master", "local[2]");
        assertEquals(local.code(), spark.code(), spark.err());
        assertTrue(spark.err().contains("spark: 2 units on local[2]"), spark.err());
        assertEquals(2, spark.rows().size());
        assertEquals(local.rows(), spark.rows());
        // two variants, the scan they share, its two shards and the baseline's eval, each run once in either engine
        assertEquals(6, spark.units().get("run").asInt(), spark.err());
        assertEquals(local.units(), spark.units());
        try (Stream<Path> dirs = Files.list(tmp.resolve("spark/units"))) {
            assertEquals(2, dirs.filter(d -> Files.isRegularFile(d.resolve("shard.bin"))).count());
        }
    }
}
