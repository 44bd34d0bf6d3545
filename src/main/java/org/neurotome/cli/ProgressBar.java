package org.neurotome.cli;

import java.io.PrintStream;

/**
 * A one-line progress bar on stderr, redrawn in place ({@code \r}) when stderr is a
 * terminal and printed at most every 10 % otherwise, so logs stay short.
 */
final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintStream err = System.err;
    private final boolean terminal = System.console() != null;
    private String lastLabel;
    private int lastDecile = -1;

    /** Shows {@code label}: {@code done} of {@code total}. */
    synchronized void update(String label, long done, long total) {
        int decile = total == 0 ? 10 : (int) (10 * done / total);
        if (!terminal && label.equals(lastLabel) && decile == lastDecile && done != total) {
            return;
        }
        int filled = total == 0 ? WIDTH : (int) (WIDTH * done / total);
        String line = String.format("%-28s [%s%s] %d/%d", label, "#".repeat(filled), ".".repeat(WIDTH - filled), done, total);
        if (terminal) {
            err.print("\r" + line + (done == total ? "\n" : ""));
        } else {
            err.println(line);
        }
        err.flush();
        lastLabel = label;
        lastDecile = decile;
    }
}
