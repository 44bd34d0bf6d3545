package org.neurotome.cna;

import org.neurotome.Sha256;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.model.LanguageModel;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a findings document was computed from (docs/architecture.md "Outputs list their inputs"):
 * the model (and the second model of a checkpoint comparison) with its fingerprint, the
 * input (prompt text and ids, or a data set with its SHA-256 and selection), and the
 * analysis parameters. Nothing in the analyses is random, so there is no seed.
 */
public record Provenance(ObjectNode model, ObjectNode against, ObjectNode input, ObjectNode parameters) {

    /**
     * A model: its directory, {@link Manifest#fingerprint} and shape, and the LoRA adapter its
     * weights are read through, if any ({@code adapter}: its directory and fingerprint, both
     * null for an adapter trained in the same run).
     */
    public static ObjectNode model(LanguageModel m) {
        return model(m, m.dir().toString());
    }

    /** A model recorded under {@code path} (a recipe records paths relative to its folder). */
    public static ObjectNode model(LanguageModel m, String path) {
        ModelConfig c = m.config();
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("path", path);
        o.put("fingerprint", Manifest.fingerprint(m.dir()));
        m.overlay().ifPresent(a -> o.putObject("adapter")
                .put("path", a.dir() == null ? null : a.dir().toString()).put("fingerprint", a.fingerprint()));
        o.put("model_type", c.modelType());
        o.put("layers", c.numLayers());
        o.put("heads", c.numHeads());
        o.put("neurons", c.ffnSize());
        o.put("vocab_size", c.vocabSize());
        return o;
    }

    /** One prompt: its text (null for raw ids) and ids. */
    public static ObjectNode prompt(String text, int[] ids) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("kind", text == null ? "ids" : "prompt");
        if (text != null) {
            o.put("text", text);
        }
        ArrayNode a = o.putArray("ids");
        for (int id : ids) {
            a.add(id);
        }
        return o;
    }

    /**
     * A data set file, recorded under {@code path}, with its SHA-256, the label filters and
     * limit applied, and the number of cases analysed.
     */
    public static ObjectNode dataset(Path file, String path, Map<String, String> where, Integer limit, int cases) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("kind", "dataset");
        o.put("path", path);
        try {
            o.put("sha256", Sha256.hex(file));
        } catch (IOException e) {
            throw NeurotomeException.badInput("cannot read data set " + file + ": " + NeurotomeException.reason(e));
        }
        ObjectNode w = o.putObject("where");
        where.forEach(w::put);
        if (limit == null) {
            o.putNull("limit");
        } else {
            o.put("limit", limit);
        }
        o.put("cases", cases);
        return o;
    }
}
