package org.neurotome.cli;

import org.neurotome.AtomicFile;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.sweep.Engine;
import org.neurotome.sweep.SweepPlan;
import org.neurotome.sweep.SweepResult;
import org.neurotome.sweep.Sweeper;
import org.neurotome.sweep.Unit;
import org.neurotome.sweep.UnitResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code neurotome sweep RECIPE --grid KEY=V1,V2 ...}: runs every variant of a recipe over a
 * grid of {@code --set} values as units on an engine (this process, or Apache Spark), keeps the
 * best variant's checkpoint, and writes {@code sweep.json} and {@code sweep.html}; or writes the
 * units for a batch scheduler ({@code --emit-units}) and builds the result once they have run
 * ({@code --collect}).
 */
@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = "Run a recipe over a grid of values and keep the best variant that passes every gate "
                + "(exit 1 when none does).")
public final class SweepCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RECIPE", description = "Recipe YAML (schema: docs/recipes.md).")
    Path recipe;

    @Option(names = "--grid", paramLabel = "KEY=V1,V2,...",
            description = "A recipe key (as --set takes it) and the values to try, e.g. --grid locate.0.top=6,12,18 "
                    + "(repeatable; replaces the recipe's sweep.grid entry for that key).")
    List<String> grid = new ArrayList<>();

    @Option(names = "--engine", paramLabel = "NAME", defaultValue = "local",
            description = "Where units run: local (this process) or spark (default: ${DEFAULT-VALUE}).")
    String engine;

    @Option(names = "--master", paramLabel = "URL",
            description = "With --engine spark: the Spark master, e.g. local[2] or spark://127.0.0.1:7077 (default: local[2]).")
    String master;

    @Option(names = "--out", paramLabel = "DIR",
            description = "The sweep's directory (default: the recipe's output.dir with -sweep).")
    Path out;

    @Option(names = "--json", description = "Print sweep.json instead of the summary.")
    boolean json;

    @Option(names = "--keep-all", description = "Keep every variant's checkpoint, not only the best one's.")
    boolean keepAll;

    @Option(names = "--emit-units", paramLabel = "FILE",
            description = "Write the units to run, one JSON line each, and run nothing (see run-unit).")
    Path emitUnits;

    @Option(names = "--collect", description = "Build sweep.json from units run by run-unit; run nothing.")
    boolean collect;

    @Mixin
    ResourceOptions resources;

    @Override
    public Integer call() {
        if (emitUnits != null && collect) {
            throw NeurotomeException.badInput("--emit-units and --collect are two steps of one sweep; give one");
        }
        int threads = resources.threads == null ? 1 : resources.threads;
        if (threads < 1) {
            throw NeurotomeException.badInput("--threads must be at least 1, got " + threads);
        }
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        SweepPlan plan = SweepPlan.plan(recipe, grid, out, threads);
        if (emitUnits != null) {
            StringBuilder lines = new StringBuilder();
            for (Unit u : plan.units()) {
                lines.append(u.toJson()).append('\n');
            }
            AtomicFile.write(emitUnits, lines.toString());
            stdout.println("wrote " + plan.units().size() + " units to " + emitUnits + "; run each with neurotome "
                    + "run-unit " + emitUnits + " --index N (N = 0.." + (plan.units().size() - 1) + "), then this "
                    + "command with --collect instead of --emit-units");
            stdout.flush();
            return ExitCode.OK.code();
        }
        SweepResult result;
        if (collect) {
            result = Sweeper.collect(plan, keepAll);
        } else {
            Engine e = Engine.named(engine, master);
            result = Sweeper.run(plan, e, new Sweeper.Options(keepAll, resources.budget(), line -> {
                synchronized (err) {
                    err.println(line);
                    err.flush();
                }
            }));
        }
        if (json) {
            stdout.print(result.json());
        } else {
            summary(stdout, result);
        }
        stdout.flush();
        List<UnitResult> failed = result.failed();
        if (!failed.isEmpty()) {
            err.println("error: " + failed.size() + " of " + plan.units().size() + " units failed; the first: "
                    + failed.getFirst().error() + " (the others are kept; rerun to retry the failed ones)");
            err.flush();
            return failed.getFirst().exitCode();
        }
        return result.best() >= 0 ? ExitCode.OK.code() : ExitCode.GATE_FAILED.code();
    }

    private static void summary(PrintWriter out, SweepResult r) {
        String objective = r.plan().objective().metric();
        out.printf(Locale.ROOT, "%-8s %-40s %14s  %s%n", "variant", "overrides", objective, "gates");
        for (int i = 0; i < r.results().size(); i++) {
            UnitResult u = r.results().get(i);
            String set = String.join(" ", u.overrides().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                    .toList());
            String verdict = !u.done() ? "failed: " + u.error()
                    : u.passed() ? "all passed" : u.gates().stream().filter(g -> !g.passed()).count() + " failed";
            Double v = u.done() ? u.value(objective) : null;
            out.printf(Locale.ROOT, "%-8s %-40s %14s  %s%n", i + (i == r.best() ? "*" : ""), set,
                    v == null ? "—" : String.format(Locale.ROOT, "%.4f", v), verdict);
        }
        out.println(r.best() >= 0 ? "best: variant " + r.best() + ", checkpoint " + r.plan().dir().resolve(
                r.plan().units().get(r.best()).model().toString()) : "no variant passed every gate");
        out.println("units: " + r.plan().units().size() + " planned, " + r.run() + " run, " + r.reused() + " reused");
        out.println("wrote " + r.plan().dir().resolve(SweepResult.JSON_FILE) + " and " + SweepResult.HTML_FILE);
    }
}
