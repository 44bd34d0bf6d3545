package org.neurotome.eval;

import org.neurotome.AtomicFile;
import org.neurotome.Json;
import org.neurotome.Shutdown;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes the reports of a run into a directory: {@code report.json} ({@link ReportJson}) and
 * {@code report.html} ({@link ReportHtml}). Each file goes through a sibling temporary file and
 * an atomic rename, so a failed write never leaves a truncated report.
 */
public final class ReportWriter {
    public static final String JSON_FILE = "report.json";
    public static final String HTML_FILE = "report.html";

    private ReportWriter() {
    }

    /**
     * Checks, before an evaluation runs, that its reports may go into {@code dir}: not into an
     * input {@code guard} protects, and replacing only earlier neurotome reports.
     */
    public static void check(Path dir, OutputGuard guard) {
        Path d = guard.fileDirectory(dir);
        guard.file(d.resolve(JSON_FILE), "a report.json", ReportWriter::isJsonReport);
        guard.file(d.resolve(HTML_FILE), "a report.html", ReportWriter::isHtmlReport);
    }

    private static boolean isJsonReport(Path file) {
        try {
            return "neurotome".equals(Json.MAPPER.readTree(file.toFile()).path("tool").path("name").asText());
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean isHtmlReport(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return new String(in.readNBytes(4096), StandardCharsets.UTF_8).contains(ReportHtml.TITLE);
        } catch (IOException e) {
            return false;
        }
    }

    /** Writes both reports into {@code dir} (created if needed), replacing earlier ones; returns their paths. */
    public static List<Path> write(EvalReport report, Path dir) {
        try {
            Shutdown.createDirectories(dir);
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot create report directory " + dir + ": "
                    + NeurotomeException.reason(e), e);
        }
        Path json = dir.resolve(JSON_FILE);
        Path html = dir.resolve(HTML_FILE);
        AtomicFile.write(json, ReportJson.render(report));
        AtomicFile.write(html, ReportHtml.render(report));
        return List.of(json, html);
    }
}
