package org.neurotome;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CI runs what the README tells a user to run: {@code .ci/run}'s first part is the README's
 * test command word for word, and its second the slow tests alone but the browser's, each timed.
 */
class CiScriptTest {
    @Test
    void ciRunsTheReadmesTestCommandThenTheSlowSet() throws Exception {
        Matcher m = Pattern.compile("Run the tests:\\s+```bash\\n(.+)\\n```").matcher(Files.readString(Path.of("README.md")));
        assertTrue(m.find(), "the README shows its test command");
        String readme = m.group(1);
        List<String> parts = Files.readAllLines(Path.of(".ci/run")).stream().filter(l -> l.startsWith("part ")).toList();
        assertEquals(List.of("part \"default set\" bash -c '" + readme + "'",
                "part \"slow set\" bash -c '" + readme + " -Pslow -Dgroups=slow -Dexcluded.groups=browser'"), parts);
    }
}
