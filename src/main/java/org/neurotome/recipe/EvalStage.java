package org.neurotome.recipe;

import org.neurotome.yaml.NodeDeserializer;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import org.neurotome.eval.Gate;
import org.neurotome.yaml.ReferencedFile;
import org.neurotome.eval.Suite;
import org.neurotome.eval.SuiteLoader;
import org.neurotome.eval.Task;
import org.neurotome.yaml.SchemaViolation;
import org.neurotome.yaml.StrictYaml;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The recipe's {@code eval}: the suite run on the output, with the input checkpoint as baseline.
 *
 * @param suite the suite and its file, the one {@code suite} names (relative to the recipe's folder)
 * @param gates the gates that decide; the suite's own unless the recipe lists its own, which
 *              replace them (an empty list: report only)
 */
public record EvalStage(@JsonDeserialize(using = EvalStage.SuiteReader.class) SuiteFile suite, List<Gate> gates) {
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

    /**
     * A suite and the file it was read from (an input of the recipe like the data sets it names);
     * it answers for the suite's name, tasks, gates and data sets.
     *
     * @param path       the suite file, resolved against the recipe's folder
     * @param definition its tasks and gates
     */
    public record SuiteFile(Path path, Suite definition) {
        public String name() {
            return definition.name();
        }

        public List<Task> tasks() {
            return definition.tasks();
        }

        public List<Gate> gates() {
            return definition.gates();
        }

        public List<String> taskIds() {
            return definition.taskIds();
        }

        public List<ReferencedFile> datasets() {
            return definition.datasets();
        }
    }

    /** Reads the suite file a recipe names, strictly; its errors are positioned in the suite file. */
    static final class SuiteReader extends NodeDeserializer<SuiteFile> {
        SuiteReader() {
            super(SuiteFile.class);
        }

        @Override
        protected SuiteFile read(JsonNode n, DeserializationContext ctxt) {
            if (!n.isTextual() || n.asText().isBlank()) {
                throw SchemaViolation.wrongType(n, "a suite file path");
            }
            Path file = StrictYaml.resolve(ctxt, n.asText());
            if (!Files.isRegularFile(file)) {
                throw SchemaViolation.of("missing file").got(file.toString());
            }
            boolean checkFiles = Boolean.TRUE.equals(ctxt.getAttribute(RecipeLoader.CHECK_FILES));
            return new SuiteFile(file, checkFiles ? SuiteLoader.load(file) : SuiteLoader.parse(file));
        }
    }
}
