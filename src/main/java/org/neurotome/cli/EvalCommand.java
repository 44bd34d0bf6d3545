package org.neurotome.cli;

import org.neurotome.ExitCode;
import org.neurotome.output.OutputGuard;
import org.neurotome.eval.EvalReport;
import org.neurotome.eval.GateResult;
import org.neurotome.eval.ReportWriter;
import org.neurotome.eval.Suite;
import org.neurotome.eval.SuiteEvaluation;
import org.neurotome.eval.SuiteLoader;
import org.neurotome.eval.SummaryTable;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.model.TorchThreads;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code neurotome eval MODEL --suite FILE}: scores a checkpoint on an eval suite, optionally
 * against a baseline, writes report.json and report.html, and exits 1 when a gate fails.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a checkpoint on a suite; exit 1 when a gate fails (for release pipelines).")
public final class EvalCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "Candidate checkpoint directory, or a .tar, .tar.gz or .tar.zst archive of one.")
    Path model;

    @Option(names = "--suite", required = true, paramLabel = "FILE", description = "Suite YAML (tasks and gates).")
    Path suite;

    @Option(names = "--baseline", paramLabel = "MODEL", description = "Baseline checkpoint for .delta, .rel_change and not_worse gates.")
    Path baseline;

    @Option(names = "--baseline-adapter", paramLabel = "DIR",
            description = "A PEFT LoRA adapter applied to the baseline's weights as they are read.")
    Path baselineAdapter;

    @Option(names = "--out", paramLabel = "DIR", description = "Where report.json and report.html go. Default: eval-report.")
    Path out = Path.of("eval-report");

    @Option(names = "--limit", paramLabel = "N", description = "At most N cases per task (a quick look; gates still apply).")
    Integer limit;

    @Mixin
    ModelOptions run;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (limit != null && limit < 1) {
            throw org.neurotome.NeurotomeException.badInput("--limit must be at least 1, got " + limit);
        }
        if (baselineAdapter != null && baseline == null) {
            throw org.neurotome.NeurotomeException.badInput("--baseline-adapter applies to the --baseline model; "
                    + "give --baseline MODEL too (the same checkpoint, to judge the adapter against its base)");
        }
        ProgressBar bar = new ProgressBar(spec.commandLine().getErr());
        Suite loaded = SuiteLoader.load(suite);
        Map<String, Path> inputs = new LinkedHashMap<>();
        inputs.put("the model", model);
        inputs.put("the baseline", baseline);
        inputs.put("the suite", suite);
        inputs.put("the adapter of --adapter", run.adapter.adapter);
        inputs.put("the adapter of --baseline-adapter", baselineAdapter);
        loaded.datasets().forEach(f -> inputs.put("the data set of " + f.key(), f.path()));
        ReportWriter.check(out, OutputGuard.protecting(inputs));
        EvalReport report;
        try (TorchThreads threads = run.resources.threads()) {
            report = SuiteEvaluation.run(loaded, loaded.gates(), model, run.adapter.read(), baseline,
                    baselineAdapter == null ? null : LoraAdapter.read(baselineAdapter), run.device.resolve(),
                    run.resources.budget(), limit, (task, which, done, total) -> bar.update(task + " (" + which + ")", done, total));
        }
        bar.finish();
        ReportWriter.write(report, out);
        return verdict(report, out.resolve(ReportWriter.HTML_FILE), spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /**
     * Prints the summary table and where the report is, lists the failed gates on stderr, and
     * returns the exit code: 0 when every gate passed, 1 otherwise ({@code eval} and {@code apply}).
     */
    static int verdict(EvalReport report, Path html, PrintWriter out, PrintWriter err) {
        out.print(SummaryTable.render(report));
        out.println("report: " + html);
        out.flush();
        if (report.passed()) {
            return ExitCode.OK.code();
        }
        for (GateResult g : report.failedGates()) {
            err.println("gate failed: " + g.name() + (g.reason() == null ? "" : " (" + g.reason() + ")"));
        }
        err.flush();
        return ExitCode.GATE_FAILED.code();
    }
}
