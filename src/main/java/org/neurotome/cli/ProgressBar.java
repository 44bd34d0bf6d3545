package org.neurotome.cli;

import org.neurotome.cna.Progress;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A progress line on stderr for long work: silent until a second after the first report
 * (short runs print nothing), then redrawn in place at most five times a second on a
 * terminal, or printed as a new line at most every five seconds when stderr is a file or a
 * pipe (CI logs); {@link #finish()} ends the line.
 */
final class ProgressBar implements Progress {
    private static final long QUIET_NANOS = 1_000_000_000L;
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final long LOG_NANOS = 5_000_000_000L;
    private static final int WIDTH = 30;

    private final PrintWriter err;
    private final boolean terminal = System.console() != null;
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
        if (now - start < QUIET_NANOS || now - lastDraw < (terminal ? REDRAW_NANOS : LOG_NANOS) && done < total) {
            return;
        }
        lastDraw = now;
        drawn = true;
        int filled = total == 0 ? WIDTH : (int) (WIDTH * done / total);
        double seconds = (now - start) / 1e9;
        err.printf(Locale.ROOT, "%s[%s%s] %d/%d %s, %.0f s%s", terminal ? "\r" : "", "#".repeat(filled),
                " ".repeat(WIDTH - filled), done, total, phase, seconds, terminal ? "" : "\n");
        err.flush();
    }

    /** Ends the progress line, if one was drawn. */
    void finish() {
        if (drawn && terminal) {
            err.println();
            err.flush();
        }
    }
}
