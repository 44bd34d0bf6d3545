package org.neurotome.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.Scratch;
import org.neurotome.Sha256;
import org.neurotome.archive.ArchiveWriter;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.cna.Findings;
import org.neurotome.eval.EvalReport;
import org.neurotome.eval.ReportWriter;
import org.neurotome.eval.Suite;
import org.neurotome.eval.SuiteEvaluation;
import org.neurotome.model.Devices;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.MemoryBudget;
import org.neurotome.model.Weights;
import org.neurotome.output.OutputGuard;
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
import java.util.function.Function;

/**
 * Executes a {@link Plan}: its stages in order, one method per kind of stage, and nothing else
 * decides what runs. The model stage opens the input checkpoint; the analyses share one loaded
 * model, released before the edits, each working in the share of the memory budget its stage
 * states (as do the recovery and the evaluation); the selects pick from their findings; the edit stages
 * resolve the recipe's edits against them; a recover stage trains its LoRA ({@link Recovery});
 * the write stage writes the edited checkpoint into its partial directory with its provenance
 * (the manifest's {@code plan} section is {@link Plan#manifestSection()}); the evaluate stage
 * judges it against the input; the card stage adds the model card; the archive stage packs it
 * when its gates pass. Only then is the output (and its archive) moved into place: a run that
 * fails or is killed before that leaves an earlier output, and its archive, as they were.
 * The stages' details (prompts, edits, training settings) are the recipe's, found by the ids
 * and kinds the plan names.
 */
final class StageExecutor implements AutoCloseable {
    private final Plan plan;
    private final Path recipeFile;
    private final Recipe recipe;
    private final RecipeRunner.Options options;
    private final OutputGuard guard;
    private final Function<Path, String> recorded;
    private final ai.djl.Device device;
    /** The recipe's bytes as the run read them, copied into the output. */
    private final byte[] recipeBytes;

    private final Map<String, Findings> findings = new LinkedHashMap<>();
    private final Map<String, Selection> selections = new LinkedHashMap<>();
    private Map<String, Integer> bestLayers = Map.of();
    private Checkpoint input;
    private LanguageModel model;
    private AnalysisRunner runner;
    private List<Edit> edits;
    private Recovery.Trained recovery;
    private CheckpointWriter.Staged staged;
    private EvalReport report;
    private Path archive;
    private Scratch packed;

    private StageExecutor(Plan plan, Path recipeFile, Recipe recipe, RecipeRunner.Options options, OutputGuard guard) {
        this.plan = plan;
        this.recipeFile = recipeFile;
        this.recipe = recipe;
        this.options = options;
        this.guard = guard;
        this.recorded = RecipeRunner.recordedRelativeTo(recipeFile);
        this.device = Devices.parse(recipe.model().device().name().toLowerCase(Locale.ROOT));
        this.recipeBytes = read(recipeFile);
    }

    /** Runs every stage of {@code plan} (made from {@code recipe}), then moves the output into place. */
    static RecipeRunner.Outcome execute(Plan plan, Path recipeFile, Recipe recipe, RecipeRunner.Options options,
                                        OutputGuard guard) {
        try (StageExecutor x = new StageExecutor(plan, recipeFile, recipe, options, guard)) {
            for (Plan.Stage stage : plan.stages()) {
                if (!(stage instanceof Plan.Analyse || stage instanceof Plan.FindingsFrom)) {
                    x.releaseModel();
                }
                switch (stage) {
                    case Plan.Model m -> x.model(m);
                    case Plan.FindingsFrom f -> x.findingsFrom(f);
                    case Plan.Analyse a -> x.analyse(a);
                    case Plan.Select s -> x.select(s);
                    case Plan.EditStage e -> x.edit(e);
                    case Plan.Recover r -> x.recover(r);
                    case Plan.Write w -> x.write(w);
                    case Plan.Evaluate e -> x.evaluate(e);
                    case Plan.Card c -> x.card(c);
                    case Plan.Archive a -> x.archive(a);
                }
            }
            return x.commit();
        }
    }

    /** The input checkpoint, which the write stage reads and the manifest fingerprints. */
    private void model(Plan.Model stage) {
        input = Checkpoint.open(recipe.model().path());
    }

    private void findingsFrom(Plan.FindingsFrom stage) {
        int i = locateIndex(stage.id());
        Locate.FindingsFile file = (Locate.FindingsFile) recipe.locate().get(i);
        long t0 = System.nanoTime();
        Findings f = FindingsFileStep.read(file, i, recipe.model().path(), options.allowOtherModel());
        findings.put(file.id(), f);
        Selection direct = FindingsFileStep.direct(recipe, file, i, f);
        if (direct != null) {
            selections.put(file.id(), direct);
        }
        options.log().accept("located " + file.id() + " in " + seconds(t0).asText() + " s");
    }

    /** An analysis on the input model, loaded by the first analysis and shared by the ones after it. */
    private void analyse(Plan.Analyse stage) {
        int i = locateIndex(stage.id());
        Locate.Analysis a = (Locate.Analysis) recipe.locate().get(i);
        if (model == null) {
            model = LanguageModel.open(recipe.model().path(), device, options.budget());
            runner = new AnalysisRunner(model, device, options.analysis(), options.log(), recorded);
            bestLayers = runner.bestLayers();
        }
        long t0 = System.nanoTime();
        requireRanked(a);
        options.log().accept("locate " + a.id() + ": " + a.method());
        MemoryBudget share = options.budget().share(stage.memory());
        Findings full;
        try (Weights.Stage working = model.weights().workIn(share)) {
            full = options.analyses().findings(i, a, (wider, tops) -> runner.run(wider, tops, selections,
                    perCase(a.id()), share, options.analyses().shards(i)));
        }
        Findings f = full.restrict(a.top(), a.layers()).withParameters(AnalysisRunner.parameters(a,
                perCase(a.id()), (ObjectNode) full.document().path("parameters")));
        findings.put(a.id(), f);
        if (a.yields().size() == 1) {
            selections.put(a.id(), Selector.all(f, a.yields().iterator().next()));
        }
        options.log().accept("located " + a.id() + " in " + seconds(t0).asText() + " s");
    }

    private void select(Plan.Select stage) {
        Select s = recipe.select().stream().filter(x -> x.id().equals(stage.id())).findFirst().orElseThrow();
        Selection chosen = Selector.select(findings.get(s.from()), s, ModelConfig.from(input));
        if (chosen.size() == 0) {
            throw NeurotomeException.badInput("select '" + s.id() + "' chose nothing from '" + s.from()
                    + "'; loosen its top, threshold or layers");
        }
        Selector.requireRanked(findings.get(s.from()), chosen, "select '" + s.id() + "'", s.from());
        options.log().accept("select " + s.id() + ": " + chosen.size() + " " + s.kind().name().toLowerCase(Locale.ROOT));
        selections.put(s.id(), chosen);
    }

    /**
     * The edits: the plan lists them by what they touch (tensors when known now, the recipe's
     * edits chosen at run time otherwise), so the first edit stage resolves all of the recipe's
     * edits against the selections, in the recipe's order, and the write applies them.
     */
    private void edit(Plan.EditStage stage) {
        if (edits != null) {
            return;
        }
        for (int k = 0; k < recipe.edit().size(); k++) {
            for (String id : referencedLocateSteps("edit." + k)) {
                Selector.requireRanked(findings.get(id), selections.get(id), "edit." + k + " (${" + id + "})", id);
            }
        }
        edits = new ArrayList<>();
        for (org.neurotome.recipe.Edit e : recipe.edit()) {
            edits.add(EditBuilder.build(e, selections));
        }
    }

    /** Trains the recovery's LoRA; the write stage merges it (and the plan says whether the edited model is scored first). */
    private void recover(Plan.Recover stage) {
        boolean before = plan.stages().stream().anyMatch(s -> s instanceof Plan.Evaluate e && e.beforeRecovery());
        recovery = Recovery.train(recipe, input, edits(), recipe.output().dir(), dtype(), before, device,
                options.within(options.budget().share(stage.memory())), bestLayers, recorded);
    }

    /** Writes the edited checkpoint (with a recovery's adapter merged after the edits) into its partial directory. */
    private void write(Plan.Write stage) {
        long t0 = System.nanoTime();
        Path out = recipe.output().dir();
        options.log().accept("write " + out);
        Surgeon.Options how = writeOptions();
        if (recovery == null) {
            staged = Surgeon.stage(input, edits(), how);
        } else {
            List<Edit> all = new ArrayList<>(edits());
            all.add(recovery.merge());
            options.log().accept("recover: merge the adapter into " + out.toAbsolutePath().normalize());
            staged = Surgeon.stage(input, all, recovery.writing(how));
            recovery.close(); // its scratch files are in the output now
        }
        input.close();
        input = null;
        options.log().accept("wrote " + out + " in " + seconds(t0).asText() + " s");
    }

    /** Judges the written checkpoint, in its partial directory, against the input; writes the reports. */
    private void evaluate(Plan.Evaluate stage) {
        Path out = staged.out();
        Path dir = staged.dir();
        // the reports name the output, not the partial directory it is evaluated in
        Function<Path, String> named = p -> recorded.apply(p.toAbsolutePath().normalize().equals(dir) ? out : p);
        options.log().accept("eval " + recipe.eval().suite().name() + " (baseline: the input checkpoint)");
        long t1 = System.nanoTime();
        Suite suite = recipe.eval().suite().definition();
        MemoryBudget share = options.budget().share(stage.memory());
        report = SuiteEvaluation.run(suite, recipe.eval().gates(), dir, recipe.model().path(),
                options.analyses().baseline(suite, recipe.model().path(), device, share), device, share, null,
                options.eval()).recorded(named);
        options.log().accept("evaluated in " + seconds(t1).asText() + " s");
        // without timings the output is the same bytes on every run, and so is its archive
        ReportWriter.write(report.withoutTimings(), dir.resolve(RecipeRunner.EVAL_DIR));
        if (beforeRecovery() != null) {
            ReportWriter.write(beforeRecovery().recorded(recorded).withoutTimings(),
                    dir.resolve(RecipeRunner.EVAL_DIR).resolve(Recovery.BEFORE_DIR));
        }
    }

    /** The model card; the manifest then lists the files written after it. */
    private void card(Plan.Card stage) {
        ModelCard.write(staged.dir());
        Manifest.addFiles(staged.dir(), laterFiles());
    }

    /** Packs the output beside its final place when every gate passed; the commit moves it there. */
    private void archive(Plan.Archive stage) {
        archive = recipe.output().archivePath();
        if (report != null && !report.passed()) {
            options.log().accept("no archive: a gate failed, so " + staged.out() + " must not ship");
            return;
        }
        long t1 = System.nanoTime();
        packed = ArchiveWriter.stage(staged.dir(), recipe.output().archive(), archive);
        options.log().accept("wrote " + archive + " in " + seconds(t1).asText() + " s");
    }

    /** Moves the output, then its archive, into place; an earlier archive goes first, so it never stands beside an output it does not hold. */
    private RecipeRunner.Outcome commit() {
        try {
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
        return new RecipeRunner.Outcome(staged.out(), selections, report, beforeRecovery(), packed != null ? archive : null);
    }

    @Override
    public void close() {
        releaseModel();
        try (Checkpoint in = input; Recovery.Trained r = recovery; CheckpointWriter.Staged s = staged; Scratch p = packed) {
            // each is closed, the last first, whatever happened before
        }
    }

    private void releaseModel() {
        if (model != null) {
            model.close();
            model = null;
            runner = null;
        }
    }

    private List<Edit> edits() {
        return edits == null ? List.of() : edits;
    }

    private EvalReport beforeRecovery() {
        return recovery == null ? null : recovery.beforeRecovery();
    }

    private DType dtype() {
        return switch (recipe.output().dtype()) {
            case KEEP -> null;
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
        };
    }

    private int locateIndex(String id) {
        for (int i = 0; i < recipe.locate().size(); i++) {
            if (recipe.locate().get(i).id().equals(id)) {
                return i;
            }
        }
        throw new IllegalStateException("the plan names locate step '" + id + "', which the recipe does not have");
    }

    /** How the output is written: its format, the recipe's files and the provenance its manifest records. */
    private Surgeon.Options writeOptions() {
        Map<String, byte[]> extra = new LinkedHashMap<>();
        extra.put(RecipeRunner.RECIPE_FILE, recipeBytes);
        extra.put(RecipeRunner.FINDINGS_FILE, findingsDocument());
        String recipeSha = Sha256.hex(recipeBytes);
        Map<String, JsonNode> provenance = new LinkedHashMap<>();
        provenance.put("input", Json.MAPPER.createObjectNode().put("dir", recorded.apply(recipe.model().path()))
                .put("sha256", Manifest.fingerprint(input.dir())));
        provenance.put("recipe", Json.MAPPER.createObjectNode().put("path", recorded.apply(recipeFile))
                .put("sha256", recipeSha).put("description", recipe.description()));
        provenance.put(BaseModel.SECTION, BaseModel.of(recipe.model().path(), input.dir(), recipe.model().name()).toJson());
        provenance.put(RecipeSteps.SECTION, RecipeSteps.describe(recipe, selections));
        provenance.put(RecipeRunner.PLAN_SECTION, plan.manifestSection());
        // written after the checkpoint, before it is renamed into place; Manifest.addFiles then lists
        // them with their hashes, and verify refuses an output where any is still missing
        ArrayNode after = Json.MAPPER.createArrayNode();
        laterFiles().forEach(after::add);
        provenance.put(Manifest.WRITTEN_AFTER, after);
        Long shard = recipe.output().maxShardSize() == null ? null : recipe.output().maxShardSize().bytes();
        return new Surgeon.Options(recipe.output().dir(), dtype(), shard, options.force(), extra, provenance,
                Map.of("neurotome.recipe_sha256", recipeSha), guard);
    }

    /** The files the plan's stages write into the output after the checkpoint: eval reports, then the model card. */
    private List<String> laterFiles() {
        List<String> later = new ArrayList<>();
        for (Plan.Stage s : plan.stages()) {
            if (s instanceof Plan.Evaluate e) {
                later.add(RecipeRunner.EVAL_DIR + "/" + ReportWriter.HTML_FILE);
                later.add(RecipeRunner.EVAL_DIR + "/" + ReportWriter.JSON_FILE);
                if (e.beforeRecovery()) {
                    String before = RecipeRunner.EVAL_DIR + "/" + Recovery.BEFORE_DIR + "/";
                    later.add(before + ReportWriter.HTML_FILE);
                    later.add(before + ReportWriter.JSON_FILE);
                }
            } else if (s instanceof Plan.Card c) {
                later.add(c.file());
            }
        }
        return later;
    }

    /** Before a CNA ablates the heads of a locate step named directly, checks that step's ranking. */
    private void requireRanked(Locate.Analysis a) {
        int index = recipe.locate().indexOf(a);
        for (String id : referencedLocateSteps("locate." + index + ".ablate")) {
            Selector.requireRanked(findings.get(id), selections.get(id), "locate." + index + ".ablate (${" + id + "})", id);
        }
    }

    /** The locate steps (not selects) that {@code place} names directly by ${id}. */
    private List<String> referencedLocateSteps(String place) {
        List<String> ids = new ArrayList<>();
        for (Locate l : recipe.locate()) {
            if (findings.containsKey(l.id()) && recipe.usesOf(l.id()).containsKey(place)) {
                ids.add(l.id());
            }
        }
        return ids;
    }

    /** Whether a select of the recipe asks for per-case rankings of step {@code id}. */
    private boolean perCase(String id) {
        return recipe.select().stream().anyMatch(s -> s.from().equals(id) && s.perCase());
    }

    /** {@code findings.json}: every step's findings and what every id resolved to. */
    private byte[] findingsDocument() {
        ObjectNode root = Json.MAPPER.createObjectNode().put("format", "neurotome-recipe-findings/1");
        ObjectNode steps = root.putObject("steps");
        findings.forEach((id, f) -> steps.set(id, f.document()));
        ObjectNode chosen = root.putObject("selections");
        selections.forEach((id, s) -> {
            ArrayNode a = chosen.putArray(id);
            switch (s) {
                case Selection.Heads h -> h.heads().forEach(x -> a.add(x.toString()));
                case Selection.Neurons n -> n.neurons().forEach(x -> a.add(x.toString()));
                case Selection.Experts e -> e.experts().forEach(x -> a.add(x.toString()));
            }
        });
        try {
            return (Json.pretty().writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An archive of an earlier run (replaced under --force) must not stay beside an output that failed its gates. */
    private static void removeStale(Path archive) {
        try {
            Files.deleteIfExists(archive);
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(archive + ": cannot remove the earlier archive: " + e.getMessage(), e);
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
