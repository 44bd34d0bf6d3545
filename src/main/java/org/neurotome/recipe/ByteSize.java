package org.neurotome.recipe;

import org.neurotome.yaml.NodeDeserializer;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import org.neurotome.yaml.SchemaViolation;
import org.neurotome.yaml.SourceTree;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A size in bytes, written as Hugging Face's {@code max_shard_size} is: {@code 2GB} (decimal
 * units, 10^9), {@code 500MiB} (binary units, 2^20), or a plain number of bytes.
 */
@JsonDeserialize(using = ByteSize.Deserializer.class)
public record ByteSize(long bytes) {
    private static final Pattern WRITTEN = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMGT]i?B|B)?",
            Pattern.CASE_INSENSITIVE);
    private static final Map<String, Long> UNITS = Map.of(
            "B", 1L, "KB", 1_000L, "MB", 1_000_000L, "GB", 1_000_000_000L, "TB", 1_000_000_000_000L,
            "KIB", 1L << 10, "MIB", 1L << 20, "GIB", 1L << 30, "TIB", 1L << 40);
    private static final String SYNTAX = "a size such as 2GB, 500MB, 1.5GiB, or a number of bytes";

    public ByteSize {
        if (bytes < 1) {
            throw SchemaViolation.of("invalid size").got(bytes).allowed(SYNTAX + ", at least 1 byte");
        }
    }

    /** Reads {@code 2GB}, {@code 1.5GiB}, {@code 1000}. */
    public static ByteSize parse(String written) {
        Matcher m = WRITTEN.matcher(written.strip());
        if (!m.matches()) {
            throw SchemaViolation.of("invalid size").got(written).allowed(SYNTAX);
        }
        String unit = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(UNITS.get(unit)));
        try {
            return new ByteSize(bytes.setScale(0, RoundingMode.FLOOR).longValueExact());
        } catch (ArithmeticException e) {
            throw SchemaViolation.of("invalid size").got(written).allowed(SYNTAX + ", below 8 EiB");
        }
    }

    @Override
    public String toString() {
        for (String unit : new String[] {"TB", "GB", "MB", "KB"}) {
            long u = UNITS.get(unit);
            if (bytes % u == 0) {
                return bytes / u + unit;
            }
        }
        return bytes + "B";
    }

    static final class Deserializer extends NodeDeserializer<ByteSize> {
        Deserializer() {
            super(ByteSize.class);
        }

        @Override
        protected ByteSize read(JsonNode n, DeserializationContext ctxt) {
            if (n.isIntegralNumber() && n.canConvertToLong()) {
                return new ByteSize(n.asLong());
            }
            if (!n.isTextual()) {
                throw SchemaViolation.of("invalid size").gotText(SourceTree.describe(n)).allowed(SYNTAX);
            }
            return parse(n.asText());
        }
    }
}
