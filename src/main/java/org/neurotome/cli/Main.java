package org.neurotome.cli;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.Shutdown;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

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
                HelpCommand.class,
                ApplyCommand.class,
                SweepCommand.class,
                RunUnitCommand.class,
                LocateCommand.class,
                EvalCommand.class,
                InspectCommand.class,
                PredictCommand.class,
                GenerateCommand.class,
                DiffCommand.class,
                VerifyCommand.class,
                PackageCommand.class,
                DatasetsCommand.class,
                FixturesCommand.class,
                TrainLoraCommand.class,
        })
public final class Main implements Callable<Integer> {

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces for errors.")
    boolean verbose;

    @Spec
    CommandSpec spec;

    /** Without a command: the usage on stderr, and exit 2 (a usage error, not success). */
    @Override
    public Integer call() {
        return missingSubcommand(spec);
    }

    /** Prints {@code spec}'s usage on stderr after one error line, for a command run without its subcommand. */
    static int missingSubcommand(CommandSpec spec) {
        PrintWriter err = spec.commandLine().getErr();
        err.println("error: name a command; commands: " + String.join(", ", spec.subcommands().keySet().stream()
                .filter(n -> !n.equals("help")).toList()) + " (see '" + spec.qualifiedName() + " --help')");
        err.flush();
        return ExitCode.BAD_INPUT.code();
    }

    public static void main(String[] args) {
        Shutdown.handleSignals();
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code (tests call this instead of main). */
    public static int execute(String... args) {
        Main main = new Main();
        CommandLine cli = new CommandLine(main);
        cli.setExecutionExceptionHandler((ex, cmd, parseResult) -> handle(ex, cmd.getErr(), main.verbose));
        cli.setParameterExceptionHandler((ex, args1) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("error: " + usageProblem(ex) + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName()
                    + " --help')");
            err.flush();
            return ExitCode.BAD_INPUT.code();
        });
        return cli.execute(args);
    }

    /** A picocli usage error as one line, without its "Error: " prefix and group notation. */
    static String usageProblem(CommandLine.ParameterException ex) {
        String message = String.valueOf(ex.getMessage()).strip();
        if (message.startsWith("Error: ")) {
            message = message.substring("Error: ".length());
        }
        // picocli's map-option message says "Value for option option '--set' ..."
        message = message.replace("option option '", "option '");
        if (ex instanceof CommandLine.MaxValuesExceededException) {
            for (CommandLine.Model.ArgGroupSpec g : ex.getCommandLine().getCommandSpec().argGroups()) {
                if (g.exclusive()) {
                    return "give one of " + String.join(", ", g.options().stream()
                            .map(CommandLine.Model.OptionSpec::longestName).toList()) + ", and only once";
                }
            }
        }
        return message.lines().map(String::strip).reduce((a, b) -> a + " " + b).orElse(message);
    }

    static int handle(Exception ex, PrintWriter err, boolean verbose) {
        if (ex instanceof NeurotomeException ne) {
            // one line, whatever a library put in the message; a file inside an archive is named by the archive
            err.println("error: " + org.neurotome.archive.ArchiveCache.nameArchives(ne.getMessage()).lines()
                    .map(String::strip).reduce((a, b) -> a + " " + b).orElse(""));
            if (verbose) {
                ne.printStackTrace(err);
            }
            err.flush();
            return ne.exitCode().code();
        }
        err.println("internal error: " + ex + (verbose ? "" : " (rerun with --verbose for the stack trace)"));
        if (verbose) {
            ex.printStackTrace(err);
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
