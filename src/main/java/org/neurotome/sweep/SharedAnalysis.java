package org.neurotome.sweep;

import org.neurotome.NeurotomeException;
import org.neurotome.cna.Findings;
import org.neurotome.recipe.AnalysisSource;
import org.neurotome.recipe.Locate;
import org.neurotome.recipe.RecipeLoader;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * An analysis unit that several variants of a sweep share: locate step {@code step} computed
 * once, keeping the top {@code top} (0: all), its full findings kept in the unit store as
 * {@code units/<key>/findings.json}. Its key is the SHA-256 of what the analysis depends on
 * ({@link SweepPlan}): the recipe, the overrides that can reach the analysis, the input files'
 * content and the top it keeps, so variants that differ only in how many of the ranking they
 * take, or in what they do after locating, find the same unit. The first variant that needs it
 * computes it, holding the unit's lock (other threads and processes wait), and every later one
 * reads it.
 *
 * @param step the locate step's index
 * @param key  the content key
 * @param top  how many of the ranking it keeps: the largest top among the variants sharing it (0: all)
 */
public record SharedAnalysis(int step, String key, int top) {
    static final String FINDINGS = "findings.json";
    private static final Map<Path, Object> LOCKS = new ConcurrentHashMap<>();

    /** Its findings in the unit store {@code store}. */
    Path findings(Path store) {
        return store.resolve(key).resolve(FINDINGS);
    }

    /** Whether it has been computed into {@code store}. */
    boolean done(Path store) {
        return Files.isRegularFile(findings(store));
    }

    /** The analyses of {@code unit}: the shared ones read from the store or computed into it, the others run. */
    static AnalysisSource source(Unit unit, Map<String, String> set, Consumer<String> log) {
        return (step, analysis, run) -> {
            SharedAnalysis shared = unit.shared().stream().filter(s -> s.step() == step).findFirst().orElse(null);
            return shared == null ? run.apply(analysis) : shared.findings(unit, set, run, log);
        };
    }

    private Findings findings(Unit unit, Map<String, String> set, Function<Locate.Analysis, Findings> run,
                              Consumer<String> log) {
        Path file = findings(unit.store());
        Path lockFile = unit.store().resolve(key + ".lock");
        synchronized (LOCKS.computeIfAbsent(lockFile, p -> new Object())) {
            try {
                Files.createDirectories(file.getParent());
                try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                     FileLock lock = channel.lock()) {
                    if (Files.isRegularFile(file)) {
                        log.accept("shared ranking read from units/" + key);
                        return Findings.read(file);
                    }
                    Map<String, String> wider = new LinkedHashMap<>(set);
                    wider.put("locate." + step + ".top", Integer.toString(top));
                    Findings full = run.apply((Locate.Analysis) RecipeLoader.loadForRun(unit.recipe(), wider).locate()
                            .get(step));
                    full.write(file);
                    log.accept("shared ranking computed into units/" + key);
                    // every variant reads the same stored findings, the first one too
                    return Findings.read(file);
                }
            } catch (IOException e) {
                throw NeurotomeException.outputFailed(file + ": cannot write the shared analysis: "
                        + NeurotomeException.reason(e), e);
            }
        }
    }

    /** The distinct shared analyses of {@code units}. */
    static List<SharedAnalysis> of(List<Unit> units) {
        return units.stream().flatMap(u -> u.shared().stream()).distinct().toList();
    }
}
