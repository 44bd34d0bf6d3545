package org.neurotome.eval;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Renders the sample report in headless Chromium ({@code scripts/render-report.sh}, Debian
 * package {@code chromium}) and checks the screenshot shows the page: full size, mostly drawn,
 * with the candidate's bar colour and the green and red gate rows. Tagged {@code slow} and
 * {@code browser} (it starts a browser); without Chromium it fails and says so. The report
 * and its PNG stay in {@code target/report-example/}.
 */
@Tag("slow")
@Tag("browser")
class ReportRenderTest {

    private static boolean near(int rgb, int target) {
        int dr = ((rgb >> 16) & 0xff) - ((target >> 16) & 0xff);
        int dg = ((rgb >> 8) & 0xff) - ((target >> 8) & 0xff);
        int db = (rgb & 0xff) - (target & 0xff);
        return Math.abs(dr) + Math.abs(dg) + Math.abs(db) < 24;
    }

    @Test
    void chromiumRendersTheReport() throws Exception {
        Path out = Path.of("target", "report-example").toAbsolutePath();
        Files.createDirectories(out.resolve("data"));
        ReportWriter.write(SampleRun.run(out.resolve("data"), System::nanoTime), out);
        Path png = out.resolve("report.png");
        Files.deleteIfExists(png);

        Process p = new ProcessBuilder("scripts/render-report.sh", out.toString(), png.toString())
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(150, TimeUnit.SECONDS), "the browser finished");
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "render-report.sh failed (is the Debian package chromium installed?):\n" + log);

        BufferedImage image = ImageIO.read(new File(png.toString()));
        assertEquals(1200, image.getWidth());
        assertEquals(1600, image.getHeight());
        int drawn = 0;
        Set<Integer> colors = new HashSet<>();
        boolean candidateBar = false;
        boolean passRow = false;
        boolean failRow = false;
        for (int y = 0; y < image.getHeight(); y += 2) {
            for (int x = 0; x < image.getWidth(); x += 2) {
                int rgb = image.getRGB(x, y) & 0xffffff;
                colors.add(rgb);
                drawn += rgb != 0xffffff ? 1 : 0;
                candidateBar |= near(rgb, Integer.parseInt(ReportHtml.CANDIDATE_COLOR.substring(1), 16));
                passRow |= near(rgb, 0xe6f4ea);
                failRow |= near(rgb, 0xfce8e6);
            }
        }
        double drawnFraction = drawn / (image.getWidth() * image.getHeight() / 4.0);
        assertTrue(drawnFraction > 0.05, "page content covers " + drawnFraction);
        assertTrue(colors.size() > 50, colors.size() + " colours: text is anti-aliased, charts are coloured");
        assertTrue(candidateBar, "candidate bars are drawn");
        assertTrue(passRow && failRow, "green and red gate rows are drawn");
    }
}
