package org.neurotome.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Sha256;
import org.neurotome.checkpoint.Manifest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Where {@code scripts/render-report.sh} puts its picture: never into a finished output (which
 * {@code verify} and {@code package} would then refuse as changed), but beside it. A stand-in
 * {@code chromium} on the PATH writes the screenshot file it is asked for, so the placement is
 * checked without a browser; {@link ReportRenderTest} renders with a real one.
 */
class RenderReportPlacementTest {
    @TempDir
    Path tmp;

    @Test
    void thePictureOfAnOutputsReportGoesBesideTheOutputWhichStillVerifies() throws Exception {
        Path out = output();
        Run run = render(out.resolve("eval").toString());
        assertEquals(0, run.code, run.log);
        Path png = tmp.resolve("out-report.png");
        assertEquals(png.toString(), run.log.strip(), "the script names the picture it wrote");
        assertTrue(Files.size(png) > 0);
        assertTrue(Manifest.verify(out).stream().allMatch(Manifest.Check::ok), "the output is unchanged");
    }

    @Test
    void aPictureAskedForInsideAnOutputIsRefusedAndNothingIsWritten() throws Exception {
        Path out = output();
        Run run = render(out.resolve("eval").toString(), out.resolve("eval/report.png").toString());
        assertEquals(2, run.code, run.log);
        assertTrue(run.log.contains("inside the neurotome output"), run.log);
        assertFalse(Files.exists(out.resolve("eval/report.png")));
        assertTrue(Manifest.verify(out).stream().allMatch(Manifest.Check::ok));
    }

    @Test
    void aReportFolderOutsideAnyOutputGetsThePictureInside() throws Exception {
        Path reports = Files.createDirectories(tmp.resolve("reports"));
        Files.writeString(reports.resolve("report.html"), "<html></html>");
        Run run = render(reports.toString());
        assertEquals(0, run.code, run.log);
        assertTrue(Files.size(reports.resolve("report.png")) > 0);
    }

    /** A finished output: an eval report and the manifest hashing it. */
    private Path output() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out/eval"));
        Files.writeString(out.resolve("report.html"), "<html><body>report</body></html>");
        Path dir = out.getParent();
        Files.write(dir.resolve(Manifest.FILE), Manifest.render(
                Map.of("eval/report.html", Sha256.hex(out.resolve("report.html"))), Map.of()));
        return dir;
    }

    private record Run(int code, String log) {
    }

    /** The script, with a stand-in chromium first on the PATH. */
    private Run render(String... args) throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path chromium = bin.resolve("chromium");
        Files.writeString(chromium, """
                #!/usr/bin/env bash
                for a in "$@"; do
                  case "$a" in --screenshot=*) printf 'PNG' > "${a#--screenshot=}" ;; esac
                done
                """);
        Files.setPosixFilePermissions(chromium, PosixFilePermissions.fromString("rwxr-xr-x"));
        String[] command = new String[args.length + 1];
        command[0] = Path.of("scripts/render-report.sh").toAbsolutePath().toString();
        System.arraycopy(args, 0, command, 1, args.length);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the script finished");
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
