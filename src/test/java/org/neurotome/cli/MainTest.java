package org.neurotome.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line as a whole: every verb has --help, usage errors exit 2. */
class MainTest {
    @Test
    void everyCommandHasHelpAndVersion() {
        PrintStream old = System.out;
        System.setOut(new PrintStream(new ByteArrayOutputStream()));
        try {
            for (String name : new CommandLine(new Main()).getSubcommands().keySet()) {
                if (!name.equals("help")) {
                    assertEquals(0, Main.execute(name, "--help"), name + " --help");
                }
            }
            assertEquals(0, Main.execute("--version"));
            assertEquals(0, Main.execute("help", "inspect"));
        } finally {
            System.setOut(old);
        }
        assertTrue(new CommandLine(new Main()).getSubcommands().size() >= 6);
    }

    @Test
    void usageErrorsExitTwo() {
        assertEquals(2, Main.execute("no-such-command"));
        assertEquals(2, Main.execute("inspect"));
        assertEquals(2, Main.execute("predict", "src/test/resources/reference/stories260K", "--top", "many", "--ids", "1"));
    }

    @Test
    void noCommandIsAUsageErrorOnStderr() {
        CliRun none = CliRun.of();
        assertEquals(2, none.code());
        assertEquals("", none.out());
        assertTrue(none.err().startsWith("error: name a command; commands: apply, sweep, run-unit, locate"), none.err());
        assertEquals(2, CliRun.of("fixtures").code());
    }

    @Test
    void usageErrorsAreOneLineWithoutPicocliNotation() {
        String model = "src/test/resources/reference/stories260K";
        for (String[] args : new String[][] {
                {"predict", model, "--ids", "1", "--ids", "2"},
                {"predict", model, "--ids", "1", "--prompt", "x"},
                {"predict", model, "--ids", "1", "--top", "1", "--top", "2"},
                {"predict", model, "--idz", "1"},
                {"predict", model, "--top", "many", "--ids", "1"},
                {"predict", model}}) {
            CliRun run = CliRun.of(args);
            assertEquals(2, run.code(), String.join(" ", args));
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().startsWith("error: ") && !run.err().contains("Error:")
                    && run.err().strip().endsWith("(see 'neurotome predict --help')"), run.err());
        }
        assertEquals("error: give one of --prompt, --ids, and only once (see 'neurotome predict --help')\n",
                CliRun.of("predict", model, "--ids", "1", "--ids", "2").err());
        assertEquals("error: Value for option '--set' (KEY=VALUE) should be in KEY=VALUE format but was x"
                + " (see 'neurotome apply --help')\n", CliRun.of("apply", "r.yaml", "--set", "x").err());
    }

    @Test
    void helpReachesNestedCommands() {
        CliRun build = CliRun.of("help", "fixtures", "build");
        assertEquals(0, build.code(), build.err());
        assertTrue(build.out().startsWith("Usage: neurotome fixtures build"), build.out());
        CliRun unknown = CliRun.of("help", "fixtures", "nosuch");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("unknown command 'nosuch' in 'neurotome fixtures'; commands: build, evaluate"),
                unknown.err());
    }
}
