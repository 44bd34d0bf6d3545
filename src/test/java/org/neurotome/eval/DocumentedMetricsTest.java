package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every full metric name the README and docs/suites.md write in code spans (what a user copies
 * into a gate) is a metric an evaluation run reports, so a documented gate never fails with
 * "metric missing".
 */
class DocumentedMetricsTest {
    private static final Pattern METRIC = Pattern.compile(
            "`((?:arithmetic|gender|pronoun|factual|language)\\.[a-z_]+(?:\\.[a-z_]+(?:=[^`\\s.]+)?)*)`");

    @Test
    void everyMetricTheDocsNameIsOneTheRunReports(@TempDir Path tmp) throws IOException {
        EvalReport report = SampleRun.run(tmp, () -> 0L);
        Set<String> reported = new TreeSet<>(report.metrics().keySet());
        Set<String> named = new TreeSet<>();
        for (Path doc : new Path[] {Path.of("README.md"), Path.of("docs/suites.md")}) {
            Matcher m = METRIC.matcher(Files.readString(doc));
            while (m.find()) {
                if (!m.group(1).matches(".*\\.(yaml|jsonl|json|md)")) {
                    named.add(m.group(1).replaceAll("\\.(delta|rel_change)$", ""));
                }
            }
        }
        assertTrue(named.contains("arithmetic.accuracy.op=+"), named.toString());
        Set<String> unknown = new TreeSet<>(named);
        unknown.removeAll(reported);
        assertEquals(Set.of(), unknown, "documented but never reported; reported: " + reported);
    }
}
