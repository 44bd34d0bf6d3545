package org.neurotome.sweep;

import org.neurotome.model.MemoryBudget;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Runs units in this process, as many at once as the memory budget holds: as many as there are
 * processors, at most as many as leave each unit the memory it needs to keep its models'
 * weights; each gets an equal share of the budget.
 */
public final class LocalEngine implements Engine {
    static final String NAME = "local";

    @Override
    public List<UnitResult> run(List<Unit> units, long unitBytes, MemoryBudget budget, Consumer<String> log) {
        int parallel = (int) Math.max(1, Math.min(Math.min(units.size(), Runtime.getRuntime().availableProcessors()),
                budget.limit() / unitBytes));
        MemoryBudget share = parallel == 1 ? budget : MemoryBudget.of(budget.limit() / parallel,
                budget.origin() + " / " + parallel + " units at once");
        log.accept("running " + units.size() + " unit" + (units.size() == 1 ? "" : "s") + ", " + parallel + " at once");
        ExecutorService pool = Executors.newFixedThreadPool(parallel);
        try {
            List<Future<UnitResult>> futures = new ArrayList<>();
            for (Unit u : units) {
                futures.add(pool.submit(() -> UnitRunner.run(u, share, log)));
            }
            List<UnitResult> results = new ArrayList<>();
            for (Future<UnitResult> f : futures) {
                results.add(f.get());
            }
            return results;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while units ran", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
    }
}
