package org.neurotome.eval;

import org.neurotome.AtomicFile;
import org.neurotome.NeurotomeException;

import java.io.IOException;
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

    /** Writes both reports into {@code dir} (created if needed), replacing earlier ones; returns their paths. */
    public static List<Path> write(EvalReport report, Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot create report directory " + dir + ": " + e, e);
        }
        Path json = dir.resolve(JSON_FILE);
        Path html = dir.resolve(HTML_FILE);
        AtomicFile.write(json, ReportJson.render(report));
        AtomicFile.write(html, ReportHtml.render(report));
        return List.of(json, html);
    }
}
