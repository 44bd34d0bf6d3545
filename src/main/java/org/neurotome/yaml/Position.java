package org.neurotome.yaml;

/**
 * Where a value of a YAML document came from: {@code file:line:column} in the file, or the
 * {@code --set key=value} override that supplied it. {@link #toString()} is the prefix of every
 * positioned error message.
 *
 * @param file     the document's path as the user gave it
 * @param line     1-based line (0 for an override)
 * @param column   1-based column (0 for an override)
 * @param override the {@code key=value} text of a {@code --set}, or null for a value from the file
 */
public record Position(String file, int line, int column, String override) {

    public static Position inFile(String file, int line, int column) {
        return new Position(file, line, column, null);
    }

    public static Position ofOverride(String file, String key, String value) {
        return new Position(file, 0, 0, key + "=" + value);
    }

    public boolean isOverride() {
        return override != null;
    }

    @Override
    public String toString() {
        return isOverride() ? file + ": --set " + override : file + ":" + line + ":" + column;
    }
}
