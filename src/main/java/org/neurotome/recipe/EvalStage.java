package org.neurotome.recipe;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import org.neurotome.eval.Gate;
import org.neurotome.eval.Suite;
import org.neurotome.eval.SuiteLoader;
import org.neurotome.yaml.SchemaViolation;
import org.neurotome.yaml.SourceTree;
import org.neurotome.yaml.StrictYaml;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The recipe's {@code eval}: the suite run on the output, with the input checkpoint as baseline.
 *
 * @param suite the suite, read from the file {@code suite} names (relative to the recipe's folder)
 * @param gates the gates that decide; the suite's own unless the recipe lists its own, which
 *              replace them (an empty list: report only)
 */
public record EvalStage(@JsonDeserialize(using = EvalStage.SuiteFile.class) Suite suite, List<Gate> gates) {
    public EvalStage {
        if (suite == null) {
            throw SchemaViolation.missingKey("suite", "the eval suite file");
        }
        if (gates == null) {
            gates = suite.gates();
        } else {
            Suite.requireTasks(gates, suite.taskIds(), "gates");
            gates = List.copyOf(gates);
        }
    }

    /** Reads the suite file a recipe names, strictly; its errors are positioned in the suite file. */
    static final class SuiteFile extends StdDeserializer<Suite> {
        SuiteFile() {
            super(Suite.class);
        }

        @Override
        public Suite deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonNode n = ctxt.readTree(p);
            if (!n.isTextual() || n.asText().isBlank()) {
                throw SchemaViolation.of("wrong type").gotText(SourceTree.describe(n)).allowed("a suite file path");
            }
            Path file = StrictYaml.resolve(ctxt, n.asText());
            if (!Files.isRegularFile(file)) {
                throw SchemaViolation.of("missing file").got(file.toString());
            }
            boolean checkFiles = Boolean.TRUE.equals(ctxt.getAttribute(RecipeLoader.CHECK_FILES));
            return checkFiles ? SuiteLoader.load(file) : SuiteLoader.parse(file);
        }
    }
}
