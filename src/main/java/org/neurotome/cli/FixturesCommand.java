package org.neurotome.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import org.neurotome.ExitCode;
import org.neurotome.Json;
import org.neurotome.output.OutputGuard;
import org.neurotome.output.OutputLock;
import org.neurotome.fixtures.FixtureCheckpoint;
import org.neurotome.fixtures.FixtureEvaluation;
import org.neurotome.fixtures.FixtureReport;
import org.neurotome.fixtures.FixtureSpec;
import org.neurotome.fixtures.FixtureTrainer;
import org.neurotome.model.TorchThreads;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
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
import java.util.concurrent.Callable;

/**
 * {@code neurotome fixtures}: trains the fixture models of docs/architecture.md "The fixture world"
 * ({@code build}) and measures a fixture checkpoint ({@code evaluate}).
 */
@Command(name = "fixtures", mixinStandardHelpOptions = true,
        description = "Train the fixture models on the synthetic corpus, or measure one.",
        subcommands = {FixturesCommand.Build.class, FixturesCommand.Evaluate.class})
public final class FixturesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return Main.missingSubcommand(spec);
    }

    /** {@code neurotome fixtures build}. */
    @Command(name = "build", mixinStandardHelpOptions = true,
            description = "Train fixture models from scratch and write them as checkpoints (progress on stderr, "
                    + "the measurements as Markdown on stdout).")
    static final class Build implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--family", paramLabel = "FAMILY",
                description = "llama, gpt2 or mixtral; default: all three, one after the other.")
        String family;

        @Option(names = "--out", paramLabel = "DIR", defaultValue = "checkpoints",
                description = "Directory to write fixture-<family>/ into. Default: ${DEFAULT-VALUE}.")
        Path out;

        @Option(names = "--steps", paramLabel = "N",
                description = "Train N steps instead of the standard schedule's (warm-up and evaluation interval scale along).")
        Integer steps;

        @Option(names = "--seed", paramLabel = "S", description = "Seed of the weights and the corpus. Default: "
                + FixtureSpec.DEFAULT_SEED + ".")
        Long seed;

        @Option(names = "--threads", paramLabel = "N", defaultValue = "1",
                description = "libtorch threads. Default: ${DEFAULT-VALUE} (on a shared machine more threads "
                        + "spin against other processes).")
        int threads;

        @Option(names = "--force", description = "Replace an existing fixture directory.")
        boolean force;

        @Override
        public Integer call() throws Exception {
            List<FixtureSpec> specs = new ArrayList<>();
            for (String f : family == null ? FixtureSpec.FAMILIES : List.of(family)) {
                FixtureSpec s = FixtureSpec.forFamily(f);
                if (steps != null) {
                    s = s.withSchedule(s.schedule().withSteps(steps));
                }
                if (seed != null) {
                    s = s.withSeed(seed);
                }
                // refused now, not after minutes of training
                OutputGuard.none().checkpointDirectory(out.resolve(s.name()), force);
                specs.add(s);
            }
            PrintWriter stdout = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            FixtureEvaluation evaluation = FixtureEvaluation.forFixtureVocabulary();
            for (FixtureSpec s : specs) {
                try (OutputLock lock = OutputLock.acquire(out.resolve(s.name()));
                     TorchThreads t = TorchThreads.use(threads);
                     NDManager root = NDManager.newBaseManager(Device.cpu());
                     FixtureTrainer.TrainingRun run = new FixtureTrainer(s, evaluation, err).train(root)) {
                    FixtureReport report = FixtureReport.measure(s.name(), run.model(), evaluation);
                    List<String> log = new ArrayList<>(run.log());
                    var last = Json.MAPPER.createObjectNode();
                    last.put("event", "final");
                    last.set("report", report.toJson());
                    log.add(last.toString());
                    Path dir = FixtureCheckpoint.write(s, run.weights(), log, out.resolve(s.name()), force).dir();
                    stdout.println("wrote " + dir);
                    stdout.println();
                    stdout.println(report.markdown());
                    stdout.flush();
                }
            }
            return ExitCode.OK.code();
        }
    }

    /** {@code neurotome fixtures evaluate}. */
    @Command(name = "evaluate", mixinStandardHelpOptions = true,
            description = "Measure a checkpoint with the fixture tokenizer: arithmetic accuracy per operation, "
                    + "template and split, bias gap, pronoun skew, factual accuracy, language perplexity, head scan.")
    static final class Evaluate implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "MODEL", description = "Checkpoint directory.")
        Path model;

        @Option(names = "--json", description = "Print JSON instead of Markdown.")
        boolean json;

        @Option(names = "--threads", paramLabel = "N", defaultValue = "1", description = "libtorch threads. Default: ${DEFAULT-VALUE}.")
        int threads;

        @Mixin
        AdapterOption adapter;

        @Override
        public Integer call() throws Exception {
            try (TorchThreads t = TorchThreads.use(threads);
                 LanguageModel lm = LanguageModel.open(model, Device.cpu(), MemoryBudget.unlimited(), adapter.read())) {
                FixtureEvaluation evaluation = new FixtureEvaluation(lm::encode);
                ProgressBar progress = new ProgressBar(spec.commandLine().getErr());
                FixtureReport report = FixtureReport.measure(model.getFileName().toString(), lm.transformer(), evaluation,
                        progress);
                progress.finish();
                PrintWriter stdout = spec.commandLine().getOut();
                stdout.println(json ? Json.pretty().writeValueAsString(report.toJson()) : report.markdown());
                stdout.flush();
            }
            return ExitCode.OK.code();
        }
    }
}
