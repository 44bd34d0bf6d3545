package org.neurotome.spark;

import ai.djl.ndarray.NDManager;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SparkSmokeTest {
    @Test
    void djlInTasks() {
        SparkSession s = SparkSession.builder().master("local[2]").appName("smoke")
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            List<Float> sums = s.createDataset(List.of(1, 2, 3, 4), Encoders.INT()).repartition(2)
                    .map((MapFunction<Integer, Float>) n -> {
                        try (NDManager m = NDManager.newBaseManager()) {
                            return m.ones(new ai.djl.ndarray.types.Shape(n)).sum().getFloat();
                        }
                    }, Encoders.FLOAT()).collectAsList();
            assertEquals(10f, sums.stream().reduce(0f, Float::sum));
        } finally {
            s.stop();
        }
    }
}
