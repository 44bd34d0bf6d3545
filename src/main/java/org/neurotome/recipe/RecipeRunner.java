package org.neurotome.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;
import org.neurotome.output.OutputLock;
import org.neurotome.Scratch;
import org.neurotome.Sha256;
import org.neurotome.archive.ArchiveWriter;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.cna.Findings;
import org.neurotome.cna.Progress;
import org.neurotome.eval.EvalReport;
import org.neurotome.eval.ProgressListener;
import org.neurotome.eval.ReportWriter;
import org.neurotome.eval.Suite;
import org.neurotome.eval.SuiteEvaluation;
import org.neurotome.model.Devices;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.release.BaseModel;
import org.neurotome.release.ModelCard;
import org.neurotome.surgery.Edit;
import org.neurotome.surgery.Surgeon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Runs a recipe end to end — locate, select, edit, (recover,) write, eval — the product's
 * main job. Analyses run on the input model; their findings are selected and resolved into the
 * edits; the edited checkpoint is written atomically with its provenance ({@code recipe.yaml}
 * verbatim, {@code findings.json}, {@code manifest.json}), after a recover stage with its LoRA
 * merged and the adapter beside it ({@link Recovery}); the eval stage then judges the output
 * against the input as baseline and writes its report under {@code eval/} in the output
 * directory (and the edited model's, before recovery, under {@code eval/before-recovery/}).
 */
public final class RecipeRunner {
    /** Where the eval stage's report goes, inside the output directory. */
    public static final String EVAL_DIR = "eval";
    public static final String FINDINGS_FILE = "findings.json";
    public static final String RECIPE_FILE = "recipe.yaml";

    /**
     * @param force           replace an earlier output
     * @param allowOtherModel use findings files computed on another model
     * @param log             one line per stage
     * @param analysis progress of long analyses
     * @param eval     progress of the eval stage
     * @param budget   memory every model of the run shares (weights kept or streamed)
     * @param analyses where the analyses' findings come from ({@link AnalysisSource#OWN}: computed here)
     */
    public record Options(boolean force, boolean allowOtherModel, Consumer<String> log, Progress analysis,
                          ProgressListener eval, MemoryBudget budget, AnalysisSource analyses) {
    }

    /**
     * What a run produced; {@code report} is null without an eval stage, {@code beforeRecovery}
     * (the edited model scored before a recover stage's LoRA) null without both stages,
     * {@code archive} null when none was asked for or a gate failed.
     */
    public record Outcome(Path out, Map<String, Selection> selections, EvalReport report, EvalReport beforeRecovery,
                          Path archive) {
    }

    private RecipeRunner() {
    }

    /**
     * The guard of a recipe's output: it may not overlap the recipe, anything the recipe reads
     * or the working directory, and replaces only an earlier neurotome output, with --force.
     */
    public static OutputGuard guard(Path recipeFile, Recipe recipe) {
        return OutputGuard.protecting(recipe.protectedInputs(recipeFile));
    }

    /**
     * Checks that the output may be written (as {@code --dry-run} does too), takes its lock for
     * the whole run, then runs the recipe: a refused or busy output fails before any analysis.
     */
    public static Outcome run(Path recipeFile, Recipe recipe, Options options) {
        OutputGuard guard = guard(recipeFile, recipe);
        Path out = guard.checkpointDirectory(recipe.output().dir(), options.force());
        archiveTarget(guard, recipe, options.force());
        try (OutputLock lock = OutputLock.acquire(out)) {
            guard.checkpointDirectory(out, options.force());
            return runLocked(recipeFile, recipe, options, guard);
        }
    }

    /**
     * Checks where the recipe's archive goes, if it asks for one (as {@code --dry-run} does
     * too): not onto or into an input, and over an earlier archive only with --force.
     *
     * @return the archive's path, or null when the recipe asks for none
     */
    public static Path archiveTarget(OutputGuard guard, Recipe recipe, boolean force) {
        Path archive = recipe.output().archivePath();
        if (archive == null) {
            return null;
        }
        guard.file(archive, "a " + recipe.output().archive().id() + " archive", p -> true);
        if (Files.exists(archive) && !force) {
            throw new NeurotomeException(org.neurotome.ExitCode.OUTPUT_FAILED, archive + ": already exists; pass --force to replace it");
        }
        return archive;
    }

    private static Outcome runLocked(Path recipeFile, Recipe recipe, Options options, OutputGuard guard) {
        byte[] recipeBytes = read(recipeFile);
        Function<Path, String> recorded = recordedRelativeTo(recipeFile);
        ai.djl.Device device = Devices.parse(recipe.model().device().name().toLowerCase(Locale.ROOT));
        Map<String, Findings> findings = new LinkedHashMap<>();
        Map<String, Selection> selections = new LinkedHashMap<>();

        boolean analyses = recipe.locate().stream().anyMatch(l -> l instanceof Locate.Analysis);
        Map<String, Integer> bestLayers = Map.of();
        try (LanguageModel model = analyses ? LanguageModel.open(recipe.model().path(), device, options.budget()) : null) {
            AnalysisRunner runner = model == null ? null
                    : new AnalysisRunner(model, device, options.budget(), options.analysis(), options.log(), recorded);
            if (runner != null) {
                bestLayers = runner.bestLayers();
            }
            for (int i = 0; i < recipe.locate().size(); i++) {
                Locate step = recipe.locate().get(i);
                long t0 = System.nanoTime();
                Findings f = switch (step) {
                    case Locate.FindingsFile file -> FindingsFileStep.read(file, i, recipe.model().path(),
                            options.allowOtherModel());
                    case Locate.Analysis a -> {
                        requireRanked(recipe, a, findings, selections);
                        options.log().accept("locate " + a.id() + ": " + a.method());
                        Findings full = options.analyses().findings(i, a,
                                wider -> runner.run(wider, selections, perCase(recipe, a.id())));
                        yield full.restrict(a.top(), a.layers());
                    }
                };
                findings.put(step.id(), f);
                Selection direct = step instanceof Locate.FindingsFile file ? FindingsFileStep.direct(recipe, file, i, f)
                        : step.yields().size() == 1 ? Selector.all(f, step.yields().iterator().next()) : null;
                if (direct != null) {
                    selections.put(step.id(), direct);
                }
                options.log().accept("located " + step.id() + " in " + seconds(t0).asText() + " s");
            }
        }
        for (Select s : recipe.select()) {
            Selection chosen = Selector.select(findings.get(s.from()), s);
            if (chosen.size() == 0) {
                throw NeurotomeException.badInput("select '" + s.id() + "' chose nothing from '" + s.from()
                        + "'; loosen its top, threshold or layers");
            }
            Selector.requireRanked(findings.get(s.from()), chosen, "select '" + s.id() + "'", s.from());
            options.log().accept("select " + s.id() + ": " + chosen.size() + " " + s.kind().name().toLowerCase(Locale.ROOT));
            selections.put(s.id(), chosen);
        }
        for (int k = 0; k < recipe.edit().size(); k++) {
            for (String id : referencedLocateSteps(recipe, "edit." + k, findings)) {
                Selector.requireRanked(findings.get(id), selections.get(id), "edit." + k + " (${" + id + "})", id);
            }
        }
        List<Edit> edits = new ArrayList<>();
        for (org.neurotome.recipe.Edit e : recipe.edit()) {
            edits.add(EditBuilder.build(e, selections));
        }

        long t0 = System.nanoTime();
        Path out = recipe.output().dir();
        options.log().accept("write " + out);
        Recovery.Recovered written;
        try (Checkpoint input = Checkpoint.open(recipe.model().path())) {
            Surgeon.Options how = writeOptions(recipe, recipeFile, options, guard, input, findings, selections, recipeBytes,
                    recorded);
            written = recipe.recover() == null ? new Recovery.Recovered(Surgeon.stage(input, edits, how), null)
                    : Recovery.run(recipe, input, edits, how, device, options, bestLayers, recorded);
        }
        try (CheckpointWriter.Staged staged = written.output()) {
            options.log().accept("wrote " + out + " in " + seconds(t0).asText() + " s");
            return finish(recipe, options, staged, written.beforeRecovery(), selections, recorded, device);
        }
    }

    /** How the output is written: its format, the recipe's files and the provenance its manifest records. */
    private static Surgeon.Options writeOptions(Recipe recipe, Path recipeFile, Options options, OutputGuard guard,
                                                Checkpoint input, Map<String, Findings> findings,
                                                Map<String, Selection> selections, byte[] recipeBytes,
                                                Function<Path, String> recorded) {
        Map<String, byte[]> extra = new LinkedHashMap<>();
        extra.put(RECIPE_FILE, recipeBytes);
        extra.put(FINDINGS_FILE, findingsDocument(findings, selections));
        String recipeSha = Sha256.hex(recipeBytes);
        Map<String, JsonNode> provenance = new LinkedHashMap<>();
        provenance.put("input", Json.MAPPER.createObjectNode().put("dir", recorded.apply(recipe.model().path()))
                .put("sha256", Manifest.fingerprint(input.dir())));
        provenance.put("recipe", Json.MAPPER.createObjectNode().put("path", recorded.apply(recipeFile))
                .put("sha256", recipeSha).put("description", recipe.description()));
        provenance.put(BaseModel.SECTION, BaseModel.of(recipe.model().path(), input.dir(), recipe.model().name()).toJson());
        provenance.put(RecipeSteps.SECTION, RecipeSteps.describe(recipe, selections));
        // written after the checkpoint, before it is renamed into place; Manifest.addFiles then lists
        // them with their hashes, and verify refuses an output where any is still missing
        ArrayNode after = Json.MAPPER.createArrayNode();
        laterFiles(recipe).forEach(after::add);
        provenance.put(Manifest.WRITTEN_AFTER, after);
        DType dtype = switch (recipe.output().dtype()) {
            case KEEP -> null;
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
        };
        Long shard = recipe.output().maxShardSize() == null ? null : recipe.output().maxShardSize().bytes();
        return new Surgeon.Options(recipe.output().dir(), dtype, shard, options.force(), extra, provenance,
                Map.of("neurotome.recipe_sha256", recipeSha), guard);
    }

    /** The files a run writes into its output after the checkpoint: eval reports, then the model card. */
    private static List<String> laterFiles(Recipe recipe) {
        List<String> later = new ArrayList<>();
        if (recipe.eval() != null) {
            later.add(EVAL_DIR + "/" + ReportWriter.HTML_FILE);
            later.add(EVAL_DIR + "/" + ReportWriter.JSON_FILE);
            if (recipe.recover() != null && !recipe.edit().isEmpty()) {
                String before = EVAL_DIR + "/" + Recovery.BEFORE_DIR + "/";
                later.add(before + ReportWriter.HTML_FILE);
                later.add(before + ReportWriter.JSON_FILE);
            }
        }
        later.add(ModelCard.FILE);
        return later;
    }

    /**
     * Evaluates the written checkpoint in its partial directory, adds the reports and the model
     * card, archives it, and only then moves the output (and the archive) into place: a run that
     * fails or is killed before that leaves an earlier output, and its archive, as they were.
     */
    private static Outcome finish(Recipe recipe, Options options, CheckpointWriter.Staged staged,
                                  EvalReport beforeRecovery, Map<String, Selection> selections,
                                  Function<Path, String> recorded, ai.djl.Device device) {
        Path out = staged.out();
        Path dir = staged.dir();
        // the reports name the output, not the partial directory it is evaluated in
        Function<Path, String> named = p -> recorded.apply(p.toAbsolutePath().normalize().equals(dir) ? out : p);
        EvalReport report = null;
        if (recipe.eval() != null) {
            options.log().accept("eval " + recipe.eval().suite().name() + " (baseline: the input checkpoint)");
            long t1 = System.nanoTime();
            Suite suite = recipe.eval().suite().definition();
            report = SuiteEvaluation.run(suite, recipe.eval().gates(), dir, recipe.model().path(),
                    options.analyses().baseline(suite, recipe.model().path(), device, options.budget()), device,
                    options.budget(), null, options.eval()).recorded(named);
            options.log().accept("evaluated in " + seconds(t1).asText() + " s");
            // without timings the output is the same bytes on every run, and so is its archive
            ReportWriter.write(report.withoutTimings(), dir.resolve(EVAL_DIR));
            if (beforeRecovery != null) {
                ReportWriter.write(beforeRecovery.recorded(recorded).withoutTimings(),
                        dir.resolve(EVAL_DIR).resolve(Recovery.BEFORE_DIR));
            }
        }
        ModelCard.write(dir);
        Manifest.addFiles(dir, laterFiles(recipe));
        Path archive = recipe.output().archivePath();
        boolean ships = report == null || report.passed();
        if (archive != null && !ships) {
            options.log().accept("no archive: a gate failed, so " + out + " must not ship");
        }
        try (Scratch packed = archive != null && ships ? packed(recipe, options, dir, archive) : null) {
            // an earlier archive goes first: it never stands beside an output it does not hold
            if (archive != null) {
                removeStale(archive);
            }
            staged.commit();
            if (packed != null) {
                packed.moveTo(archive);
            }
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(archive + ": cannot move the archive into place: "
                    + NeurotomeException.reason(e), e);
        }
        return new Outcome(out, selections, report, beforeRecovery, ships ? archive : null);
    }

    /** The archive of the finished output, written beside its final place, not yet moved into it. */
    private static Scratch packed(Recipe recipe, Options options, Path dir, Path archive) {
        long t1 = System.nanoTime();
        Scratch packed = ArchiveWriter.stage(dir, recipe.output().archive(), archive);
        options.log().accept("wrote " + archive + " in " + seconds(t1).asText() + " s");
        return packed;
    }

    /** An archive of an earlier run (replaced under --force) must not stay beside an output that failed its gates. */
    private static void removeStale(Path archive) {
        try {
            Files.deleteIfExists(archive);
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(archive + ": cannot remove the earlier archive: " + e.getMessage(), e);
        }
    }

    /**
     * How the run's outputs record a path: relative to the recipe's folder, '/'-separated, so
     * the same recipe writes the same bytes from any working directory.
     */
    static Function<Path, String> recordedRelativeTo(Path recipeFile) {
        Path base = recipeFile.toAbsolutePath().normalize().getParent();
        return p -> {
            String r = base.relativize(p.toAbsolutePath().normalize()).toString().replace(java.io.File.separatorChar, '/');
            return r.isEmpty() ? "." : r;
        };
    }

    /** Before a CNA ablates the heads of a locate step named directly, checks that step's ranking. */
    private static void requireRanked(Recipe recipe, Locate.Analysis a, Map<String, Findings> findings,
                                      Map<String, Selection> selections) {
        int index = recipe.locate().indexOf(a);
        for (String id : referencedLocateSteps(recipe, "locate." + index + ".ablate", findings)) {
            Selector.requireRanked(findings.get(id), selections.get(id), "locate." + index + ".ablate (${" + id + "})", id);
        }
    }

    /** The locate steps (not selects) that {@code place} names directly by ${id}. */
    private static List<String> referencedLocateSteps(Recipe recipe, String place, Map<String, Findings> findings) {
        List<String> ids = new ArrayList<>();
        for (Locate l : recipe.locate()) {
            if (findings.containsKey(l.id()) && recipe.usesOf(l.id()).containsKey(place)) {
                ids.add(l.id());
            }
        }
        return ids;
    }

    /** Whether a select of the recipe asks for per-case rankings of step {@code id}. */
    private static boolean perCase(Recipe recipe, String id) {
        return recipe.select().stream().anyMatch(s -> s.from().equals(id) && s.perCase());
    }

    /** {@code findings.json}: every step's findings and what every id resolved to. */
    private static byte[] findingsDocument(Map<String, Findings> findings, Map<String, Selection> selections) {
        ObjectNode root = Json.MAPPER.createObjectNode().put("format", "neurotome-recipe-findings/1");
        ObjectNode steps = root.putObject("steps");
        findings.forEach((id, f) -> steps.set(id, f.document()));
        ObjectNode chosen = root.putObject("selections");
        selections.forEach((id, s) -> {
            ArrayNode a = chosen.putArray(id);
            switch (s) {
                case Selection.Heads h -> h.heads().forEach(x -> a.add(x.toString()));
                case Selection.Neurons n -> n.neurons().forEach(x -> a.add(x.toString()));
            }
        });
        try {
            return (Json.pretty().writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw NeurotomeException.badInput(file + ": cannot read: " + NeurotomeException.reason(e));
        }
    }

    private static JsonNode seconds(long t0) {
        return Json.MAPPER.getNodeFactory().numberNode(Math.round((System.nanoTime() - t0) / 1e7) / 100.0);
    }
}
