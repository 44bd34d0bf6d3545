package org.neurotome.output;

import org.neurotome.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What marks a directory as an output neurotome wrote: a {@code manifest.json} whose
 * {@code format} is {@value #FORMAT}. The guard replaces only such a directory; the manifest
 * itself (its sections and file hashes) is the checkpoint package's.
 */
public final class OutputMarker {
    /** The manifest's file name inside an output directory. */
    public static final String FILE = "manifest.json";
    /** The {@code format} a manifest of neurotome's declares. */
    public static final String FORMAT = "neurotome-manifest/1";

    private OutputMarker() {
    }

    /** Whether {@code dir} holds a {@code manifest.json} that neurotome wrote (an earlier output it may replace). */
    public static boolean isNeurotomeOutput(Path dir) {
        Path manifest = dir.resolve(FILE);
        if (!Files.isRegularFile(manifest)) {
            return false;
        }
        try {
            return FORMAT.equals(Json.MAPPER.readTree(manifest.toFile()).path("format").asText());
        } catch (IOException e) {
            return false;
        }
    }
}
