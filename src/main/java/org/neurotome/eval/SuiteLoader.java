package org.neurotome.eval;

import org.neurotome.yaml.Document;
import org.neurotome.yaml.StrictYaml;

import java.nio.file.Path;
import java.util.Map;

/**
 * Reads an eval suite strictly (see {@link StrictYaml}): every error is BAD_INPUT with
 * {@code file:line:column}. Dataset paths resolve against the suite's folder.
 */
public final class SuiteLoader {
    private static final StrictYaml YAML = new StrictYaml();

    private SuiteLoader() {
    }

    /** Reads and validates the suite without touching its datasets. */
    public static Suite parse(Path file) {
        return YAML.read(file, Suite.class, Map.of(), Map.of()).value();
    }

    /** Reads and validates the suite, and checks that every dataset it names exists. */
    public static Suite load(Path file) {
        Document<Suite> doc = YAML.read(file, Suite.class, Map.of(), Map.of());
        doc.requireFiles(doc.value().datasets());
        return doc.value();
    }
}
