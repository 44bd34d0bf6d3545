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

    /**
     * Why a file operation failed, in words with the file it failed on, on one line: the JDK's
     * file-system exceptions carry only a path as their message ({@code FileAlreadyExistsException:
     * out}), and Jackson's add a second line ({@code at [Source: ...]}).
     */
    public static String reason(java.io.IOException e) {
        String why = switch (e) {
            case com.fasterxml.jackson.core.JsonProcessingException j -> j.getOriginalMessage()
                    + (j.getLocation() == null ? "" : " at line " + j.getLocation().getLineNr() + ", column "
                    + j.getLocation().getColumnNr());
            case java.nio.file.NoSuchFileException x -> "no such file or directory";
            case java.nio.file.FileAlreadyExistsException x -> "a file is in the way";
            case java.nio.file.AccessDeniedException x -> "permission denied";
            case java.nio.file.NotDirectoryException x -> "not a directory";
            case java.nio.file.DirectoryNotEmptyException x -> "directory not empty";
            case java.nio.file.FileSystemException x -> x.getReason();
            default -> e.getMessage();
        };
        if (e instanceof java.nio.file.FileSystemException fs && fs.getFile() != null) {
            return (why == null ? "failed" : why) + ": " + fs.getFile()
                    + (fs.getOtherFile() == null ? "" : " -> " + fs.getOtherFile());
        }
        return why == null ? e.getClass().getSimpleName() : why.lines().map(String::strip)
                .reduce((a, b) -> a + " " + b).orElse(why);
    }
}
