package org.neurotome.cli;

import org.neurotome.cna.Progress;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A progress line on stderr for long analyses: silent until a second after the first report
 * (short runs print nothing), then redrawn in place at most five times a second; {@link #finish()} ends the line.
 */
final class ProgressBar implements Progress {
    private static final long QUIET_NANOS = 1_000_000_000L;
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final int WIDTH = 30;

    private final PrintWriter err;
    private long start = -1;
    private long lastDraw;
    private boolean drawn;

    ProgressBar(PrintWriter err) {
        this.err = err;
    }

    @Override
    public void update(String phase, long done, long total) {
        long now = System.nanoTime();
        if (start < 0) {
            start = now;
        }
        if (now - start < QUIET_NANOS || now - lastDraw < REDRAW_NANOS && done < total) {
            return;
        }
        lastDraw = now;
        drawn = true;
        int filled = total == 0 ? WIDTH : (int) (WIDTH * done / total);
        double seconds = (now - start) / 1e9;
        err.printf(Locale.ROOT, "\r[%s%s] %d/%d %s, %.0f s", "#".repeat(filled), " ".repeat(WIDTH - filled), done, total,
                phase, seconds);
        err.flush();
    }

    /** Ends the progress line, if one was drawn. */
    void finish() {
        if (drawn) {
            err.println();
            err.flush();
        }
    }
}
