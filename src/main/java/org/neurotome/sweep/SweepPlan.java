package org.neurotome.sweep;

import org.neurotome.NeurotomeException;
import org.neurotome.Sha256;
import org.neurotome.Tool;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.eval.Gate;
import org.neurotome.recipe.Locate;
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
import java.util.SortedSet;
import java.util.TreeSet;

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

    /** Overrides of the stages after locate, which no analysis reads. */
    private static final List<String> AFTER_LOCATE = List.of("select.", "edit.", "recover.", "output.", "eval.", "sweep.");

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
        List<SequencedMap<String, String>> variants = grid.variants();
        List<Recipe> loaded = new ArrayList<>();
        for (SequencedMap<String, String> set : variants) {
            Map<String, String> withOutput = new LinkedHashMap<>(set);
            withOutput.put("output.dir", store.resolve("variant").toString());
            loaded.add(load(recipe, withOutput, recipeFile));
        }
        List<Map<Integer, String>> analysisTexts = new ArrayList<>();
        Map<String, Integer> tops = new HashMap<>();
        Map<String, SortedSet<Integer>> allTops = new HashMap<>();
        for (int i = 0; i < variants.size(); i++) {
            Recipe variant = loaded.get(i);
            Map<Integer, String> texts = new LinkedHashMap<>();
            // an exhaustive and a bounded scoring state different things: they share no ranking
            // a lora-scan's shards are shared, not its findings: they depend on neither its top nor its scoring
            analysisTexts(recipeBytes, variants.get(i), threads, variant, hashes).forEach((step, text) -> texts.put(
                    step, variant.locate().get(step) instanceof Locate.LoraScan ? text + "lora-scan layers\n"
                            : text + "scoring " + (((Locate.Analysis) variant.locate().get(step)).scoring().exhaustive()
                            ? "exhaustive" : "bounded") + "\n"));
            analysisTexts.add(texts);
            texts.forEach((step, text) -> {
                int top = ((Locate.Analysis) variant.locate().get(step)).top();
                tops.merge(text, top, (a, b) -> a == 0 || b == 0 ? 0 : Math.max(a, b));
                allTops.computeIfAbsent(text, t -> new TreeSet<>()).add(top);
            });
        }
        List<Unit> units = new ArrayList<>();
        for (int i = 0; i < variants.size(); i++) {
            List<SharedAnalysis> shared = new ArrayList<>();
            Recipe variant = loaded.get(i);
            analysisTexts.get(i).forEach((step, text) -> {
                Locate.Analysis a = (Locate.Analysis) variant.locate().get(step);
                shared.add(a instanceof Locate.LoraScan
                        ? new SharedAnalysis(step, sha(text), a.top(), List.of(a.top()), a.shards(), false)
                        : new SharedAnalysis(step, sha(text + "top " + tops.get(text) + "\ntops " + allTops.get(text)
                        + "\n"), tops.get(text), List.copyOf(allTops.get(text)), a.shards(), true));
            });
            units.add(new Unit(i, key(recipeBytes, variants.get(i), threads, loaded.get(i), hashes, shared), recipe,
                    variants.get(i), store, threads, shared, baseline(threads, loaded.get(i), hashes)));
        }
        long weights;
        try (Checkpoint input = Checkpoint.open(base.model().path())) {
            weights = input.tensors().values().stream().mapToLong(TensorInfo::numel).sum() * Float.BYTES;
        }
        return new SweepPlan(recipe, out, grid, units, objective(base), 2 * weights + RUNTIME_BYTES);
    }

    /**
     * The units a sweep plans: one per variant, one per analysis they share (and one per shard of
     * each run in shards) and one per baseline they share.
     */
    public int planned() {
        return units.size() + SharedUnit.of(units).size();
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

    /**
     * What each shareable analysis of a variant depends on, by locate step, without the top it
     * keeps: the overrides that can reach a locate step (not those of select, edit, recover,
     * output, eval or sweep, nor the step's own top) and the content of the files it reads. An
     * analysis that takes another step's ranking (a CNA's ablate) is not shared, nor is a
     * lora-scan, which trains; but a lora-scan run in shards shares its shards.
     */
    private static Map<Integer, String> analysisTexts(byte[] recipeBytes, SequencedMap<String, String> set,
                                                      int threads, Recipe variant, Map<Path, String> hashes) {
        Map<Integer, String> texts = new LinkedHashMap<>();
        List<String> ids = new ArrayList<>();
        variant.locate().forEach(l -> ids.add(l.id()));
        variant.select().forEach(s -> ids.add(s.id()));
        for (int step = 0; step < variant.locate().size(); step++) {
            String prefix = "locate." + step + ".";
            if (!(variant.locate().get(step) instanceof Locate.Analysis a) || a instanceof Locate.LoraScan && a.shards() == 1
                    || ids.stream().anyMatch(id -> variant.usesOf(id).keySet().stream().anyMatch(k -> k.startsWith(prefix)))) {
                continue;
            }
            StringBuilder text = new StringBuilder();
            text.append("analysis ").append(step).append('\n');
            text.append(common(recipeBytes, threads, variant, hashes));
            set.forEach((k, v) -> {
                if (!k.equals(prefix + "top") && AFTER_LOCATE.stream().noneMatch(k::startsWith)) {
                    text.append("set ").append(k).append('=').append(v).append('\n');
                }
            });
            texts.put(step, text.toString());
        }
        return texts;
    }

    private static String key(byte[] recipeBytes, SequencedMap<String, String> set, int threads, Recipe variant,
                              Map<Path, String> hashes, List<SharedAnalysis> shared) {
        StringBuilder text = new StringBuilder(common(recipeBytes, threads, variant, hashes));
        set.forEach((k, v) -> text.append("set ").append(k).append('=').append(v).append('\n'));
        shared.forEach(a -> text.append("shared ").append(a.key()).append('\n'));
        tasks(variant, text);
        variant.eval().gates().forEach(g -> text.append("gate ").append(g).append('\n'));
        return sha(text.toString());
    }

    /**
     * The evaluation of the variant's input: keyed by what the input's scores on the suite depend
     * on (not the recipe, the overrides or the gates): the version, the threads, the device, the
     * input checkpoint's fingerprint, the suite's tasks and their data sets' content.
     */
    private static SharedBaseline baseline(int threads, Recipe variant, Map<Path, String> hashes) {
        StringBuilder text = new StringBuilder("baseline\n");
        text.append("neurotome ").append(Tool.version()).append('\n');
        text.append("threads ").append(threads).append('\n');
        text.append("device ").append(variant.model().device()).append('\n');
        text.append("model ").append(hashes.computeIfAbsent(variant.model().path(), Manifest::fingerprint)).append('\n');
        for (ReferencedFile f : variant.eval().suite().datasets()) {
            text.append("input ").append(f.key()).append(' ').append(hashes.computeIfAbsent(f.path(), SweepPlan::sha))
                    .append('\n');
        }
        tasks(variant, text);
        return new SharedBaseline(sha(text.toString()));
    }

    /** The suite's tasks: what each scores, on which cases. */
    private static void tasks(Recipe variant, StringBuilder text) {
        variant.eval().suite().tasks().forEach(t -> text.append("task ").append(t.id()).append(' ').append(t.kind())
                .append(' ').append(t.where().labels()).append(' ').append(t.limit()).append('\n'));
    }

    /** The version, the recipe, the threads and every file the variant reads, by content. */
    private static String common(byte[] recipeBytes, int threads, Recipe variant, Map<Path, String> hashes) {
        StringBuilder text = new StringBuilder();
        text.append("neurotome ").append(Tool.version()).append('\n');
        text.append("recipe ").append(Sha256.hex(recipeBytes)).append('\n');
        text.append("threads ").append(threads).append('\n');
        List<ReferencedFile> files = new ArrayList<>(variant.inputFiles());
        files.addAll(variant.eval().suite().datasets());
        for (ReferencedFile f : files) {
            String hash = hashes.computeIfAbsent(f.path(), p -> f.directory() ? Manifest.fingerprint(p) : sha(p));
            text.append("input ").append(f.key()).append(' ').append(hash).append('\n');
        }
        return text.toString();
    }

    static String sha(String text) {
        MessageDigest digest = Sha256.digest();
        return HexFormat.of().formatHex(digest.digest(text.getBytes(StandardCharsets.UTF_8)));
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
