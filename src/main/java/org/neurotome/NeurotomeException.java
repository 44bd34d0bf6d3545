package org.neurotome;

/**
 * An error the user can act on: the message names the file, the tensor or key, the bad
 * value and what is allowed, and {@link #exitCode()} says how the process ends.
 */
public class NeurotomeException extends RuntimeException {
    private final ExitCode exitCode;

    public NeurotomeException(ExitCode exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public NeurotomeException(ExitCode exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public ExitCode exitCode() {
        return exitCode;
    }

    public static NeurotomeException badInput(String message) {
        return new NeurotomeException(ExitCode.BAD_INPUT, message);
    }

    public static NeurotomeException badCheckpoint(String message) {
        return new NeurotomeException(ExitCode.BAD_CHECKPOINT, message);
    }

    public static NeurotomeException outputFailed(String message, Throwable cause) {
        return new NeurotomeException(ExitCode.OUTPUT_FAILED, message, cause);
    }
}
