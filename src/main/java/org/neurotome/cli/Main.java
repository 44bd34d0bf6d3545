package org.neurotome.cli;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/**
 * The {@code neurotome} command: registers one subcommand class per verb and is the
 * only place in the code base that ends the process. Errors the user can act on
 * ({@link NeurotomeException}) print one line and map to their {@link ExitCode};
 * anything else is an internal error (exit 5), with a stack trace under --verbose.
 */
@Command(name = "neurotome",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Model surgery for transformer language models: locate, edit, write, evaluate.",
        subcommands = {
                CommandLine.HelpCommand.class,
                ApplyCommand.class,
                LocateCommand.class,
                EvalCommand.class,
                InspectCommand.class,
                PredictCommand.class,
                GenerateCommand.class,
                DiffCommand.class,
                VerifyCommand.class,
                DatasetsCommand.class,
                FixturesCommand.class,
                TrainLoraCommand.class,
        })
public final class Main implements Runnable {

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces for errors.")
    boolean verbose;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code (tests call this instead of main). */
    public static int execute(String... args) {
        Main main = new Main();
        CommandLine cli = new CommandLine(main);
        cli.setExecutionExceptionHandler((ex, cmd, parseResult) -> handle(ex, cmd.getErr(), main.verbose));
        cli.setParameterExceptionHandler((ex, args1) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("error: " + ex.getMessage());
            err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
            err.flush();
            return ExitCode.BAD_INPUT.code();
        });
        return cli.execute(args);
    }

    static int handle(Exception ex, PrintWriter err, boolean verbose) {
        if (ex instanceof NeurotomeException ne) {
            err.println("error: " + ne.getMessage());
            if (verbose) {
                ne.printStackTrace(err);
            }
            err.flush();
            return ne.exitCode().code();
        }
        err.println("internal error: " + ex);
        if (verbose) {
            ex.printStackTrace(err);
        } else {
            err.println("(rerun with --verbose for the stack trace)");
        }
        err.flush();
        return ExitCode.INTERNAL.code();
    }

    /** Reads the version from the jar manifest, or the build's resource when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"neurotome " + org.neurotome.Tool.version()};
        }
    }
}
