package org.neurotome.cli;

import org.neurotome.ExitCode;
import org.neurotome.output.OutputGuard;
import org.neurotome.eval.EvalDatasets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code neurotome datasets}: writes the evaluation data sets of docs/method.md A6 as JSONL
 * ({@link EvalDatasets}); the same seed always writes the same bytes.
 */
@Command(name = "datasets", mixinStandardHelpOptions = true,
        description = "Write the evaluation data sets (arithmetic, gender, pronoun, factual, language) as JSONL.")
public final class DatasetsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "eval/datasets",
            description = "Directory to write into; files of the same name are replaced (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "" + EvalDatasets.DEFAULT_SEED,
            description = "Seed of the sampled cases (default: ${DEFAULT-VALUE}, the seed of the committed files).")
    long seed;

    @Override
    public Integer call() {
        PrintWriter stdout = spec.commandLine().getOut();
        OutputGuard.none().fileDirectory(out);
        for (EvalDatasets.Dataset dataset : EvalDatasets.write(out, seed)) {
            stdout.printf("wrote %s (%d cases)%n", out.resolve(dataset.fileName()), dataset.cases().size());
        }
        stdout.flush();
        return ExitCode.OK.code();
    }
}
