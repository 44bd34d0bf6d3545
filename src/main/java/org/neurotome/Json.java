package org.neurotome;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.UncheckedIOException;

/** The one JSON mapper every output and input of neurotome goes through (stable, pretty output). */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    private Json() {
    }

    /**
     * Why {@code file} is not JSON, as one line: {@code file:line:column: invalid JSON: ...}, the
     * position left out where the parser has none (a nesting or size limit).
     */
    public static String invalid(java.nio.file.Path file, JsonProcessingException e) {
        com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
        return file + (at == null ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr()) + ": invalid JSON: "
                + e.getOriginalMessage();
    }

    /** {@code text} read as JSON (text this program wrote); text that is not JSON is an {@link UncheckedIOException}. */
    public static JsonNode tree(String text) {
        try {
            return MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A writer producing two-space indented JSON with a trailing-newline-free body. */
    public static ObjectWriter pretty() {
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withObjectIndenter(new DefaultIndenter("  ", "\n"))
                .withArrayIndenter(DefaultPrettyPrinter.FixedSpaceIndenter.instance);
        return MAPPER.writer(printer);
    }
}
