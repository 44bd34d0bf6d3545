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
}
