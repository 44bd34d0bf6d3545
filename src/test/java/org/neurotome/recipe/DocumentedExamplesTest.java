package org.neurotome.recipe;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.eval.Suite;
import org.neurotome.eval.SuiteLoader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The first example of docs/recipes.md and docs/suites.md is valid against the schema. */
class DocumentedExamplesTest {

    private static String firstYamlBlock(Path doc) throws IOException {
        String text = Files.readString(doc);
        int start = text.indexOf("```yaml\n") + "```yaml\n".length();
        return text.substring(start, text.indexOf("```", start));
    }

    @Test
    void recipeExampleParses(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("example.yaml");
        Files.writeString(file, firstYamlBlock(Path.of("docs/recipes.md")));
        Recipe r = RecipeLoader.parse(file, Map.of("eval.suite",
                Path.of("eval/suites/gender.yaml").toAbsolutePath().toString()));
        assertEquals(dir.resolve("../checkpoints/fixture-gpt2").normalize(), r.model().path());
        assertEquals("zero-neurons", r.edit().getFirst().op());
    }

    @Test
    void suiteExampleParses(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("example.yaml");
        Files.writeString(file, firstYamlBlock(Path.of("docs/suites.md")));
        Suite s = SuiteLoader.parse(file);
        assertEquals(List.of("gender", "factual"), s.taskIds());
        assertEquals(3, s.gates().size());
    }
}
