package org.neurotome.archive;

import com.fasterxml.jackson.annotation.JsonProperty;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;

/**
 * The archive formats a checkpoint travels in: a POSIX (pax) tar, plain, gzip-compressed
 * (RFC 1952) or Zstandard-compressed (RFC 8878), told apart by the file name's extension. The
 * compression levels are fixed, so the same files always give the same archive bytes: zstd 3
 * (the {@code zstd} tool's default) and gzip 1, since trained weights hardly compress and
 * gzip's default 6 takes over three times as long for about 1 % less (BENCHMARKS.md).
 */
public enum ArchiveFormat {
    @JsonProperty("tar") TAR("tar", ".tar", new byte[] {}),
    @JsonProperty("tar.gz") TAR_GZ("tar.gz", ".tar.gz", new byte[] {0x1f, (byte) 0x8b}),
    @JsonProperty("tar.zst") TAR_ZST("tar.zst", ".tar.zst", new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd});

    /** gzip's fastest level: on weights, about 1 % larger than the default level's output in under a third of its time. */
    static final int GZIP_LEVEL = 1;
    /** zstd's own default level. */
    static final int ZSTD_LEVEL = 3;

    private final String id;
    private final String extension;
    private final byte[] magic;

    ArchiveFormat(String id, String extension, byte[] magic) {
        this.id = id;
        this.extension = extension;
        this.magic = magic;
    }

    /** The name recipes and options use: {@code tar}, {@code tar.gz}, {@code tar.zst}. */
    public String id() {
        return id;
    }

    /** The file-name extension, with its dot. */
    public String extension() {
        return extension;
    }

    /** The format a file name says, e.g. {@code model.tar.gz}; empty for any other name. */
    public static Optional<ArchiveFormat> of(Path file) {
        Path name = file.getFileName();
        if (name == null) {
            return Optional.empty();
        }
        String s = name.toString().toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(f -> s.endsWith(f.extension) && s.length() > f.extension.length())
                .findFirst();
    }

    /** Whether {@code path} names an archive (by its extension), whether or not it exists. */
    public static boolean isArchive(Path path) {
        return of(path).isPresent();
    }

    /** The format named {@code id}; anything else is a BAD_INPUT error listing the names. */
    public static ArchiveFormat parse(String id) {
        for (ArchiveFormat f : values()) {
            if (f.id.equals(id)) {
                return f;
            }
        }
        throw NeurotomeException.badInput("unknown archive format '" + id + "'; allowed: " + allowed());
    }

    /** The format names, comma-separated, for messages. */
    public static String allowed() {
        return String.join(", ", Arrays.stream(values()).map(ArchiveFormat::id).toList());
    }

    /** {@code dir} with this format's extension appended: where an archive of it goes by default. */
    public Path besides(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        return abs.resolveSibling(abs.getFileName() + extension);
    }

    /**
     * Checks that the first bytes of an archive fit this format (the gzip or zstd magic number;
     * for a plain tar, neither of them); returns what they are instead, or null when they fit.
     */
    String mismatch(byte[] head, int length) {
        for (ArchiveFormat other : values()) {
            if (other != TAR && startsWith(head, length, other.magic)) {
                return other == this ? null : other.id + " data";
            }
        }
        if (this == TAR) {
            return null;
        }
        return length == 0 ? "empty" : "not " + id.substring(4) + " data (it starts with "
                + HexFormat.ofDelimiter(" ").formatHex(head, 0, Math.min(length, 4)) + ")";
    }

    private static boolean startsWith(byte[] head, int length, byte[] prefix) {
        return length >= prefix.length && Arrays.equals(head, 0, prefix.length, prefix, 0, prefix.length);
    }

    /** The decompressed stream of {@code raw} (gzip members concatenated, as {@code gzip -d} reads them). */
    InputStream decompress(InputStream raw) throws IOException {
        return switch (this) {
            case TAR -> raw;
            case TAR_GZ -> GzipCompressorInputStream.builder().setInputStream(raw).setDecompressConcatenated(true).get();
            case TAR_ZST -> new ZstdCompressorInputStream(raw);
        };
    }

    /**
     * A compressing stream over {@code raw} at the fixed level, with nothing that varies by
     * time or machine: the gzip header carries no name, mtime 0 and OS "unknown"; zstd frames
     * carry a checksum.
     */
    OutputStream compress(OutputStream raw) throws IOException {
        return switch (this) {
            case TAR -> raw;
            case TAR_GZ -> {
                GzipParameters p = new GzipParameters();
                p.setCompressionLevel(GZIP_LEVEL);
                p.setModificationTime(0);
                p.setOperatingSystem(255);
                p.setBufferSize(1 << 16);
                yield new GzipCompressorOutputStream(raw, p);
            }
            case TAR_ZST -> ZstdCompressorOutputStream.builder().setOutputStream(raw).setLevel(ZSTD_LEVEL)
                    .setChecksum(true).get();
        };
    }
}
