package org.neurotome.fuzz;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.recipe.RecipeLoader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The recipe loader ({@link RecipeLoader#parse}) on mutated recipes — the shipped ones and
 * the test recipes, valid and invalid — with, now and then, a {@code --set} override whose
 * key and value are mutated too. An input file starts with one line naming the override
 * ({@code #set KEY=VALUE}, or {@code #set} for none), then the recipe. Harness: {@link ParserFuzz}.
 */
class RecipeFuzzTest {
    static final String TARGET = "recipe";
    private static final List<byte[]> SEEDS = seeds();
    private static final String[] KEYS = {"output.dir", "output.dtype", "output.max_shard_size", "locate.0.top",
            "locate.0", "edit.0.heads", "edit.0", "edit.1.factor", "select.0.layers", "model", "eval.gates",
            "locate.scan.layers", "edit.0.neurons.0", "description"};

    private static List<byte[]> seeds() {
        List<byte[]> s = new java.util.ArrayList<>(ParserFuzz.seeds(Path.of("recipes"), "*.yaml"));
        s.addAll(ParserFuzz.seeds(Path.of("src/test/resources/recipes"), "**.yaml"));
        return s;
    }

    @ParameterizedTest(name = "round {0}")
    @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")
    void anyRecipeLoadsOrIsRefused(int round) {
        ParserFuzz.fuzz(TARGET, round, RecipeFuzzTest::input, RecipeFuzzTest::parse);
    }

    @Test
    void theCorpusLoadsOrIsRefused() {
        assertTrue(ParserFuzz.replay(TARGET, RecipeFuzzTest::parse) > 0);
    }

    private static byte[] input(Random r) {
        String set = "";
        if (r.nextInt(3) == 0) {
            byte[] value = ParserFuzz.mutate(List.of("[17.22, 3.1]".getBytes(StandardCharsets.UTF_8),
                    "{op: zero-heads, heads: 0.1}".getBytes(StandardCharsets.UTF_8), "0.5".getBytes(StandardCharsets.UTF_8),
                    "../x".getBytes(StandardCharsets.UTF_8)), r);
            set = KEYS[r.nextInt(KEYS.length)] + "=" + new String(value, StandardCharsets.UTF_8).replace('\n', ' ');
        }
        byte[] head = ("#set " + set + "\n").getBytes(StandardCharsets.UTF_8);
        return ParserFuzz.concat(head, ParserFuzz.mutate(SEEDS, r));
    }

    static void parse(byte[] input) throws IOException {
        String text = new String(input, StandardCharsets.ISO_8859_1);
        int eol = text.indexOf('\n');
        Map<String, String> overrides = new LinkedHashMap<>();
        byte[] recipe = input;
        if (text.startsWith("#set ") && eol > 0) {
            String set = new String(input, 5, eol - 5, StandardCharsets.UTF_8);
            int eq = set.indexOf('=');
            if (eq > 0) {
                overrides.put(set.substring(0, eq), set.substring(eq + 1));
            }
            recipe = java.util.Arrays.copyOfRange(input, eol + 1, input.length);
        }
        Path file = ParserFuzz.scratch(TARGET, "recipe.yaml");
        Files.write(file, recipe);
        RecipeLoader.parse(file, overrides);
    }
}
