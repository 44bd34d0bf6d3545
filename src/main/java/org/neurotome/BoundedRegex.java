package org.neurotome;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A regular expression run with a bound on its work. A backtracking engine (Java's, and the
 * Oniguruma engine inside the Hugging Face tokenizers library) can take time exponential in
 * the length of the text on patterns such as {@code ((a+)+)+$}; a pattern read from a user's
 * file is therefore matched through a text that counts the characters the engine reads and
 * gives up after {@code maxSteps} of them. A sound pattern reads each character a few times,
 * so the bounds used here ({@link #STEPS_PER_CHAR} per character, and at least
 * {@link #MIN_STEPS}) are far above any honest match and far below a hang.
 */
public final class BoundedRegex {
    /** Characters the engine may read per character of text. */
    public static final long STEPS_PER_CHAR = 1_000;
    /** Characters the engine may read on any text, however short. */
    public static final long MIN_STEPS = 1_000_000;

    private BoundedRegex() {
    }

    /** The engine read more characters than its bound allows: the pattern backtracks without end on this text. */
    public static final class TooMuchWork extends RuntimeException {
        private final long steps;

        TooMuchWork(long steps) {
            super("more than " + steps + " steps", null, false, false);
            this.steps = steps;
        }

        /** The bound that was passed, in characters read. */
        public long steps() {
            return steps;
        }
    }

    /** The bound for a text of {@code length} characters. */
    public static long bound(int length) {
        return Math.max(MIN_STEPS, STEPS_PER_CHAR * length);
    }

    /** Whether {@code pattern} matches the whole of {@code text}. */
    public static boolean matches(Pattern pattern, String text) {
        return guarded(text, () -> matcher(pattern, text).matches());
    }

    /** The matcher of {@code pattern} matched at the start of {@code text}, or null when it does not match there. */
    public static Matcher lookingAt(Pattern pattern, String text) {
        return guarded(text, () -> {
            Matcher m = matcher(pattern, text);
            return m.lookingAt() ? m : null;
        });
    }

    /** Finds every match of {@code pattern} in {@code text} in turn, as a tokenizer's split does; returns how many. */
    public static int scan(Pattern pattern, String text) {
        return guarded(text, () -> {
            Matcher m = matcher(pattern, text);
            int n = 0;
            while (m.find()) {
                n++;
            }
            return n;
        });
    }

    /**
     * A matcher over {@code text} whose searches together may read {@link #bound} characters:
     * past that they throw {@link TooMuchWork}.
     */
    private static Matcher matcher(Pattern pattern, String text) {
        return pattern.matcher(new Counted(text, new long[] {bound(text.length())}));
    }

    /** Runs {@code search}; a stack overflow of the engine (deeply recursive backtracking) counts as too much work. */
    private static <T> T guarded(String text, java.util.function.Supplier<T> search) {
        try {
            return search.get();
        } catch (StackOverflowError e) {
            throw new TooMuchWork(bound(text.length()));
        }
    }

    /** A text that counts down its budget on every character read. */
    private record Counted(String text, long[] left) implements CharSequence {
        @Override
        public char charAt(int index) {
            if (--left[0] < 0) {
                throw new TooMuchWork(bound(text.length()));
            }
            return text.charAt(index);
        }

        @Override
        public int length() {
            return text.length();
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return text.subSequence(start, end);
        }

        @Override
        public String toString() {
            return text;
        }
    }
}
