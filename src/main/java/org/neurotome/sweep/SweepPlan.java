package org.neurotome.sweep;

import org.neurotome.NeurotomeException;
import org.neurotome.Sha256;
import org.neurotome.Tool;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.eval.Gate;
import org.neurotome.recipe.Recipe;
import org.neurotome.recipe.RecipeLoader;
import org.neurotome.recipe.Sweep;
import org.neurotome.yaml.ReferencedFile;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * A sweep planned: every variant of the grid read and checked as {@code apply} reads its recipe
 * (a bad key or value fails here, naming the grid entry, before any unit runs), and turned into a
 * {@link Unit} whose key is the SHA-256 of what its result depends on: the neurotome version, the
 * recipe file's bytes, the variant's overrides, the threads, the content of every file the
 * variant reads (the input checkpoint's fingerprint, data sets, findings files, adapters, the
 * suite's data sets) and the suite's tasks and gates. Two sweeps that need the same variant find
 * the same unit.
 *
 * @param recipe    the recipe file, absolute
 * @param dir       the sweep's output directory, absolute
 * @param grid      the grid
 * @param units     one per variant, in grid order
 * @param objective what picks the best variant
 * @param unitBytes memory one unit needs to keep its weights: the input's and the edited model's
 *                  float32 weights (its eval holds both) and the runtime's own
 */
public record SweepPlan(Path recipe, Path dir, Grid grid, List<Unit> units, Sweep.Objective objective,
                        long unitBytes) {
    /** What the JVM and libtorch hold beside a unit's weights. */
    static final long RUNTIME_BYTES = 384L << 20;

    /** The unit store inside the sweep's directory. */
    public static final String UNITS = "units";

    /**
     * Plans the sweep of {@code recipeFile} over {@code grid}, or the recipe's own {@code sweep.grid}.
     *
     * @param gridArguments the {@code --grid KEY=V1,V2} arguments (may be empty)
     * @param dir           the sweep's directory; null for the recipe's {@code output.dir} with {@code -sweep}
     */
    public static SweepPlan plan(Path recipeFile, List<String> gridArguments, Path dir, int threads) {
        Path recipe = recipeFile.toAbsolutePath().normalize();
        Recipe base = RecipeLoader.loadForRun(recipe, Map.of());
        Grid grid = Grid.of(base.sweep(), gridArguments);
        if (grid.axes().isEmpty()) {
            throw NeurotomeException.badInput(recipeFile + ": nothing to sweep; give --grid KEY=V1,V2,... or a "
                    + "sweep.grid in the recipe");
        }
        if (base.eval() == null) {
            throw NeurotomeException.badInput(recipeFile + ": a sweep compares its variants by their eval; "
                    + "the recipe has no eval stage");
        }
        Path out = (dir != null ? dir : base.output().dir().resolveSibling(base.output().dir().getFileName() + "-sweep"))
                .toAbsolutePath().normalize();
        Path store = out.resolve(UNITS);
        byte[] recipeBytes = read(recipe);
        Map<Path, String> hashes = new HashMap<>();
        List<Unit> units = new ArrayList<>();
        List<SequencedMap<String, String>> variants = grid.variants();
        for (int i = 0; i < variants.size(); i++) {
            SequencedMap<String, String> set = variants.get(i);
            Map<String, String> withOutput = new LinkedHashMap<>(set);
            withOutput.put("output.dir", store.resolve("variant").toString());
            Recipe variant = load(recipe, withOutput, recipeFile);
            units.add(new Unit(i, key(recipeBytes, set, threads, variant, hashes), recipe, set, store, threads));
        }
        long weights;
        try (Checkpoint input = Checkpoint.open(base.model().path())) {
            weights = input.tensors().values().stream().mapToLong(TensorInfo::numel).sum() * Float.BYTES;
        }
        return new SweepPlan(recipe, out, grid, units, objective(base), 2 * weights + RUNTIME_BYTES);
    }

    /** The recipe's objective, or the default: the first gate's quantity, in the direction it asks for. */
    static Sweep.Objective objective(Recipe recipe) {
        if (recipe.sweep() != null && recipe.sweep().objective() != null) {
            return recipe.sweep().objective();
        }
        List<Gate> gates = recipe.eval().gates();
        if (gates.isEmpty()) {
            throw NeurotomeException.badInput("the recipe's eval has no gate to rank the variants by; give "
                    + "sweep.objective (metric, goal)");
        }
        Gate first = gates.getFirst();
        return new Sweep.Objective(first.quantity(), first.smallerIsBetter() ? Sweep.Goal.MIN : Sweep.Goal.MAX);
    }

    /** Reads a variant; an error about a grid value names it as {@code --grid} rather than {@code --set}. */
    private static Recipe load(Path recipe, Map<String, String> set, Path written) {
        try {
            return RecipeLoader.loadForRun(recipe, set);
        } catch (NeurotomeException e) {
            String message = e.getMessage();
            for (Map.Entry<String, String> s : set.entrySet()) {
                message = message.replace(": --set " + s.getKey() + "=", ": --grid " + s.getKey() + "=");
            }
            throw new NeurotomeException(e.exitCode(), message.replace(recipe.toString(), written.toString()), e);
        }
    }

    private static String key(byte[] recipeBytes, SequencedMap<String, String> set, int threads, Recipe variant,
                              Map<Path, String> hashes) {
        StringBuilder text = new StringBuilder();
        text.append("neurotome ").append(Tool.version()).append('\n');
        text.append("recipe ").append(Sha256.hex(recipeBytes)).append('\n');
        set.forEach((k, v) -> text.append("set ").append(k).append('=').append(v).append('\n'));
        text.append("threads ").append(threads).append('\n');
        List<ReferencedFile> files = new ArrayList<>(variant.inputFiles());
        files.addAll(variant.eval().suite().datasets());
        for (ReferencedFile f : files) {
            String hash = hashes.computeIfAbsent(f.path(), p -> f.directory() ? Manifest.fingerprint(p) : sha(p));
            text.append("input ").append(f.key()).append(' ').append(hash).append('\n');
        }
        variant.eval().suite().tasks().forEach(t -> text.append("task ").append(t.id()).append(' ').append(t.kind())
                .append(' ').append(t.where().labels()).append(' ').append(t.limit()).append('\n'));
        variant.eval().gates().forEach(g -> text.append("gate ").append(g).append('\n'));
        MessageDigest digest = Sha256.digest();
        return HexFormat.of().formatHex(digest.digest(text.toString().getBytes(StandardCharsets.UTF_8)));
    }

    private static String sha(Path file) {
        try {
            return Sha256.hex(file);
        } catch (IOException e) {
            throw NeurotomeException.badInput(file + ": cannot read: " + NeurotomeException.reason(e));
        }
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw NeurotomeException.badInput(file + ": cannot read: " + NeurotomeException.reason(e));
        }
    }
}
