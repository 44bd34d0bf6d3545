package org.neurotome.archive;

import org.neurotome.NeurotomeException;

/**
 * How much an archive may unpack to: a bound on the total of its entries' sizes (against
 * decompression bombs; never more than the cache's file system has free) and on the number of
 * entries.
 *
 * @param maxBytes   the largest total size of the unpacked files, in bytes
 * @param maxEntries the most entries (files, folders, links) an archive may hold
 */
public record ArchiveLimits(long maxBytes, int maxEntries) {
    /** System property overriding {@link #MAX_BYTES_ENV}. */
    public static final String MAX_BYTES_PROPERTY = "neurotome.archive.max-bytes";
    /** Environment variable: the largest unpacked size in bytes (default: the cache's free space). */
    public static final String MAX_BYTES_ENV = "NEUROTOME_ARCHIVE_MAX_BYTES";
    /** Far more files than any checkpoint has (a sharded 400B model has a few hundred). */
    public static final int DEFAULT_MAX_ENTRIES = 100_000;

    public ArchiveLimits {
        if (maxBytes < 0 || maxEntries < 0) {
            throw new IllegalArgumentException("limits must not be negative: " + maxBytes + " bytes, " + maxEntries + " entries");
        }
    }

    /**
     * The limits in force: {@value #MAX_BYTES_PROPERTY} or {@value #MAX_BYTES_ENV} when set,
     * never more than {@code freeBytes}, the space left where the archive unpacks.
     */
    public static ArchiveLimits configured(long freeBytes) {
        String set = System.getProperty(MAX_BYTES_PROPERTY, System.getenv(MAX_BYTES_ENV));
        long max = freeBytes;
        if (set != null && !set.isBlank()) {
            try {
                max = Math.min(max, Long.parseLong(set.strip()));
            } catch (NumberFormatException e) {
                throw NeurotomeException.badInput(MAX_BYTES_ENV + " must be a whole number of bytes, got '" + set + "'");
            }
            if (max < 0) {
                throw NeurotomeException.badInput(MAX_BYTES_ENV + " must not be negative, got '" + set + "'");
            }
        }
        return new ArchiveLimits(max, DEFAULT_MAX_ENTRIES);
    }
}
