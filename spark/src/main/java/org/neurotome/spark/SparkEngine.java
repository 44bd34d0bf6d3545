package org.neurotome.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.model.MemoryBudget;
import org.neurotome.sweep.Engine;
import org.neurotome.sweep.Unit;
import org.neurotome.sweep.UnitResult;
import org.neurotome.sweep.UnitRunner;
import org.neurotome.sweep.UnitStore;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The {@code spark} engine of {@code neurotome sweep} (Apache Spark 4): the units become a
 * Dataset of their JSON lines, one partition each; every task runs its unit with neurotome's own
 * {@link UnitRunner}, which writes the unit's checkpoint and result into the sweep's directory
 * (a directory every worker must see), and the results come back to the driver. A task whose
 * executor is lost is run again by Spark ({@value #TASK_TRIES} tries in all); a unit still
 * unfinished after that is reported failed, and the units that finished are kept.
 *
 * <p>The master is {@code local[N]} (this JVM, N tasks at once), or a standalone cluster
 * {@code spark://HOST:PORT}; executors of a cluster get this JVM's class path and options, so a
 * cluster started from the same jars ({@code scripts/spark-cluster}) runs the same code.
 */
public final class SparkEngine implements Engine {
    /** Tries of a task before its unit is reported failed (Spark's {@code spark.task.maxFailures}). */
    static final int TASK_TRIES = 2;
    static final String DEFAULT_MASTER = "local[2]";

    private final String master;

    SparkEngine(String master) {
        this.master = master;
    }

    /** Registers the engine as {@code --engine spark}. */
    public static final class Provider implements Engine.Provider {
        @Override
        public String name() {
            return "spark";
        }

        @Override
        public Engine open(String master) {
            String m = master == null ? DEFAULT_MASTER : master;
            if (m.startsWith("spark://")) {
                requireReachable(m);
            } else if (!m.matches("local(\\[(\\d+|\\*)(,\\d+)?])?")) {
                throw NeurotomeException.badInput("--master " + m + ": allowed: local, local[N], local[N,F] or "
                        + "spark://HOST:PORT");
            }
            return new SparkEngine(m);
        }
    }

    /** A standalone master that does not answer is refused at once, not after Spark's minute of retries. */
    static void requireReachable(String master) {
        for (String hostPort : master.substring("spark://".length()).split(",")) {
            URI uri = URI.create("spark://" + hostPort);
            if (uri.getHost() == null || uri.getPort() < 0) {
                throw NeurotomeException.badInput("--master " + master + ": expected spark://HOST:PORT");
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 3000);
                return;
            } catch (IOException e) {
                if (!master.contains(",")) {
                    throw NeurotomeException.badInput("--master " + master + ": cannot reach the Spark master: "
                            + e.getMessage() + " (is it running? scripts/spark-cluster start)");
                }
            }
        }
        throw NeurotomeException.badInput("--master " + master + ": cannot reach any of the Spark masters");
    }

    @Override
    public List<UnitResult> run(List<Unit> units, long unitBytes, MemoryBudget budget, Consumer<String> log) {
        if (units.isEmpty()) {
            return List.of();
        }
        List<String> lines = units.stream().map(Unit::toJson).toList();
        long share = budget.limit();
        SparkSession spark = SparkSession.builder().config(conf()).getOrCreate();
        Map<String, UnitResult> byKey = new HashMap<>();
        try {
            log.accept("spark: " + units.size() + " units on " + master);
            // one unit per partition, so as many run at once as the cluster has cores
            JavaRDD<String> partitions = JavaSparkContext.fromSparkContext(spark.sparkContext())
                    .parallelize(lines, lines.size());
            List<String> results = spark.createDataset(partitions.rdd(), Encoders.STRING())
                    .map((MapFunction<String, String>) line -> runTask(line, share), Encoders.STRING())
                    .collectAsList();
            for (String r : results) {
                UnitResult u = UnitResult.fromJson(r);
                byKey.put(u.key(), u);
            }
        } catch (RuntimeException e) {
            // the job stopped (a unit's tries ran out); what finished is in the store
            log.accept("spark: the job stopped: " + oneLine(e.getMessage()));
        } finally {
            spark.stop();
        }
        List<UnitResult> out = new ArrayList<>();
        for (Unit u : units) {
            UnitResult r = byKey.get(u.key());
            if (r == null) {
                r = UnitStore.result(u).filter(UnitResult::done).orElse(UnitResult.failed(u, "unit " + u.index()
                        + ": its Spark task failed " + TASK_TRIES + " times (a worker lost while it ran?)",
                        ExitCode.INTERNAL.code(), 0));
            }
            out.add(r);
        }
        return out;
    }

    /** One task: the unit's JSON line in, its result's JSON out. */
    private static String runTask(String line, long budget) {
        Unit unit = Unit.fromJson(line, "spark task");
        return UnitRunner.run(unit, MemoryBudget.of(budget, "the sweep's budget"), System.err::println).toJson();
    }

    private SparkConf conf() {
        SparkConf conf = new SparkConf().setMaster(master).setAppName("neurotome sweep")
                .set("spark.ui.enabled", "false")
                .set("spark.task.maxFailures", Integer.toString(TASK_TRIES));
        if (master.startsWith("spark://")) {
            // executors run this JVM's code from the same jars, with the same options
            conf.set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                    .set("spark.executor.extraJavaOptions", String.join(" ", JvmOptions.executor()))
                    .set("spark.executor.cores", "1")
                    .set("spark.cores.max", Integer.toString(Runtime.getRuntime().availableProcessors()));
            String host = URI.create(master.split(",")[0]).getHost();
            if (host.equals("127.0.0.1") || host.equals("localhost")) {
                conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
            }
        }
        return conf;
    }

    private static String oneLine(String message) {
        return message == null ? "" : message.lines().findFirst().orElse("");
    }
}
