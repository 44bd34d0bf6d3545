package org.neurotome.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The JVM options every JVM of the Spark engine needs on JDK 17 and later (the packages Spark
 * reaches into, as Spark's own launcher opens them; native access for libtorch; offline model
 * loading), one per line in {@code neurotome-spark-jvm.options}: the driver's scripts
 * ({@code scripts/neurotome}, {@code scripts/spark-cluster}) read the same file, and executors of
 * a cluster get them from here.
 */
final class JvmOptions {
    static final String RESOURCE = "/neurotome-spark-jvm.options";

    private JvmOptions() {
    }

    static List<String> executor() {
        try (InputStream in = JvmOptions.class.getResourceAsStream(RESOURCE)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().map(String::strip)
                    .filter(l -> !l.isEmpty()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
