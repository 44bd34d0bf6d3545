package org.neurotome;

/**
 * Process exit codes of every neurotome command, documented in the README.
 * Only {@code cli.Main} turns these into a process exit.
 */
public enum ExitCode {
    /** The command did what was asked (and every eval gate passed). */
    OK(0),
    /** An evaluation gate failed: the candidate checkpoint must not ship. */
    GATE_FAILED(1),
    /** Bad input: command-line usage, recipe, suite or dataset (file:line:col in the message). */
    BAD_INPUT(2),
    /** Bad checkpoint: missing or malformed config/safetensors/index, unsupported architecture. */
    BAD_CHECKPOINT(3),
    /** The output could not be written (exists without --force, disk error); nothing was left behind. */
    OUTPUT_FAILED(4),
    /** An internal error: a bug in neurotome. Rerun with --verbose and report it. */
    INTERNAL(5);

    private final int code;

    ExitCode(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
