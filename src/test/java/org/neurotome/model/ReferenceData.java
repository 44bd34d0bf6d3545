package org.neurotome.model;

import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The independent reference numbers under test resources {@code reference/} (see its README). */
public final class ReferenceData {
    private ReferenceData() {
    }

    public static Path root() {
        try {
            return Path.of(ReferenceData.class.getResource("/reference/cases.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Path caseDir(String name) {
        return root().resolve(name);
    }

    public static List<String> caseNames() {
        List<String> names = new ArrayList<>();
        read(root().resolve("cases.json")).path("cases").forEach(c -> names.add(c.path("name").asText()));
        return names;
    }

    public static JsonNode expected(String name) {
        return read(caseDir(name).resolve("expected.json"));
    }

    public static JsonNode read(Path file) {
        try {
            return Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] ints(JsonNode array) {
        int[] v = new int[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).asInt();
        }
        return v;
    }

    /** A nested JSON array flattened row-major. */
    public static float[] floats(JsonNode array) {
        List<Float> out = new ArrayList<>();
        flatten(array, out);
        float[] v = new float[out.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = out.get(i);
        }
        return v;
    }

    private static void flatten(JsonNode n, List<Float> out) {
        if (n.isArray()) {
            n.forEach(e -> flatten(e, out));
        } else {
            out.add((float) n.asDouble());
        }
    }
}
