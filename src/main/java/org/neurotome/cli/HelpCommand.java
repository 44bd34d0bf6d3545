package org.neurotome.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;

/**
 * {@code neurotome help [COMMAND [SUBCOMMAND ...]]}: the help of any command, nested ones
 * included ({@code help fixtures build}), as picocli's own help command shows only the first
 * level (picocli {@code CommandLine.HelpCommand}).
 */
@Command(name = "help", helpCommand = true,
        description = "Show the help of a command, e.g. 'help apply' or 'help fixtures build'.")
final class HelpCommand implements CommandLine.IHelpCommandInitializable2, Runnable {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "The command, then its subcommands.")
    String[] commands = {};

    private CommandLine.Help.ColorScheme colors;
    private PrintWriter out;

    @Override
    public void init(CommandLine helpCommandLine, CommandLine.Help.ColorScheme colorScheme, PrintWriter outWriter,
                     PrintWriter errWriter) {
        this.colors = colorScheme;
        this.out = outWriter;
    }

    @Override
    public void run() {
        CommandLine target = spec.commandLine().getParent();
        for (String name : commands) {
            CommandLine next = target.getSubcommands().get(name);
            if (next == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "unknown command '" + name + "' in '"
                        + target.getCommandSpec().qualifiedName() + "'; commands: "
                        + String.join(", ", target.getSubcommands().keySet()));
            }
            target = next;
        }
        target.usage(out, colors);
        out.flush();
    }
}
