package org.neurotome.sweep;

import org.neurotome.NeurotomeException;
import org.neurotome.model.MemoryBudget;

import java.util.List;
import java.util.ServiceLoader;
import java.util.function.Consumer;

/**
 * Where a sweep's units run. Every engine runs each unit with {@link UnitRunner}, which records
 * the unit's result in the store as it ends, and returns the results in the order of the units
 * given. {@code local} ({@link LocalEngine}) is built in; others (Spark, in the
 * {@code neurotome-spark} jar) are found with {@link ServiceLoader} through {@link Provider}.
 */
public interface Engine {
    /**
     * Runs {@code units} (none of them done yet).
     *
     * @param unitBytes memory one unit needs to keep its models' weights ({@link SweepPlan#unitBytes})
     * @param budget    memory the units share
     * @param log    progress lines
     */
    List<UnitResult> run(List<Unit> units, long unitBytes, MemoryBudget budget, Consumer<String> log);

    /** Makes an engine by name, for {@link #named}. */
    interface Provider {
        /** The engine's name, as {@code --engine} takes it. */
        String name();

        /**
         * An engine on {@code master} (null for the engine's default); a master that cannot be
         * reached is a BAD_INPUT error.
         */
        Engine open(String master);
    }

    /** The engine {@code --engine NAME} asks for. */
    static Engine named(String name, String master) {
        if (name.equals(LocalEngine.NAME)) {
            if (master != null) {
                throw NeurotomeException.badInput("--master is for --engine spark; the local engine runs in this process");
            }
            return new LocalEngine();
        }
        for (Provider p : ServiceLoader.load(Provider.class)) {
            if (p.name().equals(name)) {
                return p.open(master);
            }
        }
        if (name.equals("spark")) {
            throw NeurotomeException.badInput("--engine spark: the Spark engine is not on the class path; run "
                    + "scripts/neurotome, which builds spark/target/neurotome-spark.jar and uses it for sweeps");
        }
        throw NeurotomeException.badInput("--engine " + name + ": unknown engine; allowed: local, spark");
    }
}
