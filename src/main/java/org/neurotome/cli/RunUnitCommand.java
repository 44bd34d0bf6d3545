package org.neurotome.cli;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.sweep.Unit;
import org.neurotome.sweep.UnitResult;
import org.neurotome.sweep.UnitRunner;
import org.neurotome.sweep.UnitStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code neurotome run-unit UNITS --index N}: runs one unit that {@code sweep --emit-units}
 * wrote, as one task of a batch scheduler's array job (SLURM's {@code $SLURM_ARRAY_TASK_ID},
 * a Kubernetes indexed Job's {@code $JOB_COMPLETION_INDEX}), and records its result in the
 * sweep's unit store; a unit already done is not run again.
 */
@Command(name = "run-unit", mixinStandardHelpOptions = true,
        description = "Run one unit written by sweep --emit-units (exit 0 once it is done, whatever its gates say).")
public final class RunUnitCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "UNITS", description = "The units file sweep --emit-units wrote.")
    Path units;

    @Option(names = "--index", paramLabel = "N", required = true, description = "Which unit: its 0-based line.")
    int index;

    @Mixin
    ResourceOptions resources;

    @Override
    public Integer call() {
        List<String> lines;
        try {
            lines = Files.readAllLines(units).stream().filter(l -> !l.isBlank()).toList();
        } catch (NoSuchFileException e) {
            throw NeurotomeException.badInput(units + ": no such file");
        } catch (IOException e) {
            throw NeurotomeException.badInput(units + ": cannot read: " + NeurotomeException.reason(e));
        }
        if (index < 0 || index >= lines.size()) {
            throw NeurotomeException.badInput("--index " + index + ": " + units + " holds " + lines.size()
                    + " units; allowed: 0 to " + (lines.size() - 1));
        }
        Unit unit = Unit.fromJson(lines.get(index), units + ":" + (index + 1));
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (UnitStore.reusable(unit, false).isPresent()) {
            out.println("unit " + index + " is done; nothing to run");
            out.flush();
            return ExitCode.OK.code();
        }
        UnitResult r = UnitRunner.run(unit, resources.budget(), line -> {
            err.println(line);
            err.flush();
        });
        if (!r.done()) {
            err.println("error: unit " + index + ": " + r.error());
            err.flush();
            return r.exitCode();
        }
        out.println("unit " + index + " done in " + r.seconds() + " s: " + (r.passed() ? "every gate passed"
                : "a gate failed") + "; model " + r.model());
        out.flush();
        return ExitCode.OK.code();
    }
}
