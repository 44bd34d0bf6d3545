package org.neurotome.recipe;

import org.neurotome.yaml.SchemaViolation;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ${id}}: the heads or neurons found by an earlier locate or select step of the same
 * recipe, the experts chosen by an earlier select step, or the best layer of an earlier {@code lora-scan} step (a LoRA's {@code layers}).
 * Which ids are valid where is checked when the recipe is loaded.
 *
 * @param id the step's id
 */
public record Reference(String id) implements HeadSet, NeuronSet, ExpertSet, LayerSource {
    /** A step id: a letter or '_', then letters, digits, '_' or '-'. */
    static final Pattern ID = Pattern.compile("[A-Za-z_][A-Za-z0-9_-]*");
    private static final Pattern WRITTEN = Pattern.compile("\\$\\{\\s*([^}]*?)\\s*}");

    public Reference {
        if (id == null || !ID.matcher(id).matches()) {
            throw SchemaViolation.of("invalid reference").got(id)
                    .allowed("${id} where id is a letter or '_', then letters, digits, '_' or '-'");
        }
    }

    /** Reads {@code ${id}}. */
    static Reference parse(String written) {
        Matcher m = WRITTEN.matcher(written.strip());
        if (!m.matches()) {
            throw SchemaViolation.of("invalid reference").got(written).allowed("${id}, e.g. ${arith_heads}");
        }
        return new Reference(m.group(1));
    }

    /** Whether a YAML text value is meant as a reference. */
    static boolean looksLikeOne(String written) {
        return written.strip().startsWith("$");
    }

    @Override
    public String toString() {
        return "${" + id + "}";
    }
}
