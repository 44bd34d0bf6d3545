package org.neurotome.cli;

import org.junit.jupiter.api.Test;
import org.neurotome.archive.ArchiveFormat;
import org.neurotome.recipe.Recipe;
import org.neurotome.recipe.RecipeLoader;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The commands in the README's {@code bash} blocks, as a newcomer runs them: in order, and the
 * whole list twice in a row. Each {@code apply} writes its recipe's output directory (and
 * archive), so one that finds what it writes already there needs {@code --force}, and each
 * {@code verify} reads what an earlier command wrote; a {@code sweep} resumes its own folder. Everything they write — and the picture
 * {@code scripts/render-report.sh} puts beside an output — is ignored by {@code .gitignore}, so
 * {@code git status} stays clean. The recipes' outputs are read from the recipes themselves.
 */
class ReadmeCommandsTest {
    private static final Pattern BLOCK = Pattern.compile("```bash\\n(.*?)```", Pattern.DOTALL);

    @Test
    void theReadmeCommandsRunInOrderTwiceAndLeaveGitStatusClean() throws IOException {
        List<List<String>> commands = new ArrayList<>();
        Matcher m = BLOCK.matcher(Files.readString(Path.of("README.md")));
        while (m.find()) {
            for (String line : m.group(1).split("\n")) {
                String command = line.replaceAll("#.*", "").strip();
                if (command.startsWith("scripts/neurotome ")) {
                    commands.add(List.of(command.split("\\s+")));
                }
            }
        }
        assertTrue(commands.stream().anyMatch(c -> c.get(1).equals("apply")), "the README runs a recipe: " + commands);
        Path root = Path.of("").toAbsolutePath();
        List<String> ignores = Files.readAllLines(root.resolve(".gitignore"));
        Set<Path> written = new HashSet<>();
        for (int round = 1; round <= 2; round++) {
            for (List<String> c : commands) {
                String what = "round " + round + ": " + String.join(" ", c);
                switch (c.get(1)) {
                    case "apply" -> {
                        Recipe recipe = RecipeLoader.parse(Path.of(c.get(2)), Map.of());
                        Path out = option(c, "--out") != null ? Path.of(option(c, "--out")).toAbsolutePath().normalize()
                                : recipe.output().dir().toAbsolutePath().normalize();
                        String format = option(c, "--archive");
                        List<Path> outputs = new ArrayList<>(List.of(out));
                        if (format != null || recipe.output().archive() != null) {
                            outputs.add((format != null ? ArchiveFormat.parse(format) : recipe.output().archive()).besides(out));
                        }
                        outputs.add(out.resolveSibling(out.getFileName() + "-report.png"));
                        for (Path p : outputs) {
                            assertTrue(c.contains("--force") || !written.contains(p),
                                    what + ": " + root.relativize(p) + " exists by now, and the command has no --force");
                            assertTrue(ignored(root.relativize(p), ignores),
                                    what + ": writes " + root.relativize(p) + ", which .gitignore does not ignore");
                        }
                        written.addAll(outputs.subList(0, outputs.size() - 1));
                    }
                    case "sweep" -> {
                        // a sweep resumes what an earlier run of it left (no --force); its folder must be ignored
                        Path out = option(c, "--out") != null ? Path.of(option(c, "--out")).toAbsolutePath().normalize()
                                : sweepDir(RecipeLoader.parse(Path.of(c.get(2)), Map.of()).output().dir());
                        assertTrue(!out.startsWith(root) || ignored(root.relativize(out), ignores),
                                what + ": writes " + out + ", which .gitignore does not ignore");
                    }
                    case "verify", "inspect" -> assertTrue(written.contains(Path.of(c.get(2)).toAbsolutePath().normalize())
                            || Files.exists(Path.of(c.get(2))), what + ": reads what no earlier command wrote");
                    default -> assertFalse(c.contains("--out") && !c.contains("--force"),
                            what + ": writes an output without --force");
                }
            }
        }
    }

    /** A sweep's folder when the command names none: the recipe's output folder with {@code -sweep}. */
    private static Path sweepDir(Path output) {
        return output.resolveSibling(output.getFileName() + "-sweep").toAbsolutePath().normalize();
    }

    /** The value after {@code name}, or null. */
    private static String option(List<String> command, String name) {
        int i = command.indexOf(name);
        return i < 0 || i + 1 >= command.size() ? null : command.get(i + 1);
    }

    /**
     * Whether {@code path} (relative to the repository) is ignored by one of the lines: a
     * pattern with a slash before its end is anchored at the repository's root, one without
     * matches a name at any depth, and a path is ignored with any folder above it.
     */
    static boolean ignored(Path path, List<String> lines) {
        for (String line : lines) {
            String pattern = line.strip();
            if (pattern.isEmpty() || pattern.startsWith("#") || pattern.startsWith("!")) {
                continue;
            }
            pattern = pattern.endsWith("/") ? pattern.substring(0, pattern.length() - 1) : pattern;
            boolean anchored = pattern.contains("/");
            PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:"
                    + (pattern.startsWith("/") ? pattern.substring(1) : pattern));
            for (Path p = path; p != null; p = p.getParent()) {
                if (anchored ? matcher.matches(p) : matcher.matches(p.getFileName())) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void theIgnoreMatcherReadsPatternsAsGitDoes() {
        List<String> lines = List.of("# a comment", "target/", "/checkpoints/*-out/", "*.tmp");
        assertTrue(ignored(Path.of("target/classes/A.class"), lines));
        assertTrue(ignored(Path.of("sub/target/x"), lines));
        assertTrue(ignored(Path.of("checkpoints/a-out/model.safetensors"), lines));
        assertFalse(ignored(Path.of("checkpoints/a-out.tar.gz"), lines));
        assertFalse(ignored(Path.of("sub/checkpoints/a-out"), lines));
        assertTrue(ignored(Path.of("x/y.tmp"), lines));
        assertEquals(false, ignored(Path.of("README.md"), lines));
    }
}
