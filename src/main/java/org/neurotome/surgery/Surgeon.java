package org.neurotome.surgery;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.CheckpointWriter;
import org.neurotome.checkpoint.DType;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.checkpoint.OutputTensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Applies a list of {@link Edit}s to a checkpoint and writes the result: edits are lowered
 * to tensor edits and streamed tensor by tensor into a new checkpoint of the same format
 * (dtype kept unless asked, shards, index); the tokenizer and the other files a checkpoint
 * needs are copied, and what else the input's folder holds is listed as left out ({@link CopiedFiles});
 * {@code config.json} is rewritten only by a compacting edit or a dtype conversion (its
 * {@code torch_dtype}); shards follow the input's unless a size limit is given. The output carries its
 * provenance: safetensors {@code __metadata__} (tool version, input fingerprint, recipe
 * hash, edit summary) and a {@code manifest.json} listing every file's SHA-256 and every
 * edit with the tensors and indices it touched.
 */
public final class Surgeon {
    private Surgeon() {
    }

    /**
     * Where and how to write.
     *
     * @param dtype         output dtype of floating tensors, or null to keep each tensor's own
     * @param maxShardBytes shard size limit, or null to shard as the input is sharded
     * @param extraFiles    more files for the output directory (recipe.yaml, findings.json, ...)
     * @param provenance    more manifest sections (recipe hash, base model, steps, ...) and metadata entries
     * @param guard         what the output may not overlap besides the input checkpoint
     */
    public record Options(Path out, DType dtype, Long maxShardBytes, boolean force,
                          Map<String, byte[]> extraFiles, Map<String, JsonNode> provenance,
                          Map<String, String> metadata, OutputGuard guard) {
        /** Options guarding only the input checkpoint and the working directory. */
        public Options(Path out, DType dtype, Long maxShardBytes, boolean force, Map<String, byte[]> extraFiles,
                       Map<String, JsonNode> provenance, Map<String, String> metadata) {
            this(out, dtype, maxShardBytes, force, extraFiles, provenance, metadata, OutputGuard.none());
        }
    }

    /** What was written. */
    public record Result(Path out, Map<String, String> sha256, ArrayNode edits, ObjectNode config) {
    }

    /** Lowers {@code edits} against {@code input} without writing anything (for --dry-run and tests). */
    public static Lowered lower(Checkpoint input, List<Edit> edits) {
        ModelConfig config = ModelConfig.from(input);
        // tensor names as the input spells them (a GPT-2 file without "transformer."), so the output keeps them
        Architecture arch = Architecture.forCheckpoint(input);
        arch.validate(input, config);
        EditContext ctx = new EditContext(arch, config, input.config());
        List<TensorEdit> all = new ArrayList<>();
        ArrayNode described = Json.MAPPER.createArrayNode();
        for (Edit e : edits) {
            if (ctx.expertsPruned()) {
                throw NeurotomeException.badInput(e.op() + " after prune-experts: the edits after it would name the"
                        + " experts and neurons of the unpruned model; put prune-experts last");
            }
            List<TensorEdit> lowered = e.lower(ctx);
            all.addAll(lowered);
            ObjectNode d = e.describe();
            ArrayNode touched = d.putArray("touched");
            for (TensorEdit t : lowered) {
                ObjectNode o = touched.addObject().put("tensor", t.tensor()).put("kind", t.kind().name().toLowerCase());
                if (t.kind() == TensorEdit.Kind.ADD) {
                    o.put("delta", t.addend().describe());
                } else if (t.kind() == TensorEdit.Kind.RENAME) {
                    o.put("into", t.into());
                } else if (t.kind() != TensorEdit.Kind.DROP) {
                    o.put("axis", t.axis()).put("count", t.indices().length).put("indices", ranges(t.indices()))
                            .put("factor", t.factor());
                }
            }
            described.add(d);
        }
        return new Lowered(all, described, ctx.configJson());
    }

    /** The tensor edits of a recipe, their description, and the config.json to write. */
    public record Lowered(List<TensorEdit> tensorEdits, ArrayNode described, ObjectNode config) {
    }

    /** Applies {@code edits} to {@code input} and writes the result atomically. */
    public static Result apply(Checkpoint input, List<Edit> edits, Options options) {
        Lowered lowered = lower(input, edits);
        try (CheckpointWriter.Staged staged = stage(input, lowered, options)) {
            CheckpointWriter.Written w = staged.commit();
            return new Result(w.dir(), w.sha256(), lowered.described(), lowered.config());
        }
    }

    /**
     * Applies {@code edits} to {@code input} and writes the result into its partial directory,
     * for the caller to finish (eval reports, model card) and commit.
     */
    public static CheckpointWriter.Staged stage(Checkpoint input, List<Edit> edits, Options options) {
        return stage(input, lower(input, edits), options);
    }

    private static CheckpointWriter.Staged stage(Checkpoint input, Lowered lowered, Options options) {
        List<OutputTensor> tensors = WeightRewriter.rewrite(input, lowered.tensorEdits(), options.dtype());
        CopiedFiles copied = CopiedFiles.of(input);
        Map<String, byte[]> files = new TreeMap<>();
        ObjectNode config = withDtype(lowered.config(), options.dtype());
        try {
            files.put(Checkpoint.CONFIG, config == input.config()
                    ? Files.readAllBytes(input.dir().resolve(Checkpoint.CONFIG))
                    : (Json.pretty().writeValueAsString(config) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(input.dir() + ": cannot read config.json: " + NeurotomeException.reason(e));
        }
        files.putAll(options.extraFiles());
        String inputFingerprint = Manifest.fingerprint(input.dir());
        Map<String, String> metadata = new LinkedHashMap<>(input.metadata());
        metadata.putIfAbsent("format", "pt");
        metadata.put("neurotome.version", org.neurotome.Tool.version());
        metadata.put("neurotome.input_sha256", inputFingerprint);
        metadata.put("neurotome.edits", summary(lowered.described()));
        metadata.putAll(options.metadata());
        Map<String, JsonNode> sections = new LinkedHashMap<>();
        sections.put("input", Json.MAPPER.createObjectNode().put("dir", input.dir().toAbsolutePath().toString())
                .put("sha256", inputFingerprint));
        sections.put("edits", lowered.described());
        if (!copied.leftOut().isEmpty()) {
            ObjectNode leftOut = Json.MAPPER.createObjectNode();
            copied.leftOut().forEach(leftOut::put);
            sections.put(CopiedFiles.SECTION, leftOut);
        }
        sections.putAll(options.provenance());
        CheckpointWriter writer = new CheckpointWriter(options.maxShardBytes() == null ? Long.MAX_VALUE
                : options.maxShardBytes(), metadata, options.force())
                .protecting(options.guard().and("the input checkpoint", input.dir()))
                .copying(copied.copied());
        if (options.maxShardBytes() == null && input.shardFiles().size() > 1) {
            Map<String, String> shardOf = new LinkedHashMap<>();
            WeightRewriter.sources(input, lowered.tensorEdits()).forEach((name, from) ->
                    shardOf.put(name, input.info(from).file().getFileName().toString()));
            writer.shardLike(shardOf);
        }
        return writer.stage(options.out(), tensors, files,
                new CheckpointWriter.LastFile(Manifest.FILE, hashes -> Manifest.render(hashes, sections)));
    }

    /** {@code transformers}' names of the dtypes a checkpoint may be converted to. */
    private static final Map<DType, String> TORCH_DTYPE = Map.of(DType.F32, "float32", DType.F16, "float16",
            DType.BF16, "bfloat16");

    /**
     * {@code config} with {@code torch_dtype} (and {@code dtype}, which newer {@code transformers}
     * write instead) naming {@code dtype}; {@code config} itself when no conversion is asked or
     * it already says so.
     */
    static ObjectNode withDtype(ObjectNode config, DType dtype) {
        String name = dtype == null ? null : TORCH_DTYPE.get(dtype);
        if (name == null || name.equals(config.path("torch_dtype").asText(null))
                && (!config.has("dtype") || name.equals(config.path("dtype").asText(null)))) {
            return config;
        }
        ObjectNode out = config.deepCopy();
        out.put("torch_dtype", name);
        if (out.has("dtype")) {
            out.put("dtype", name);
        }
        return out;
    }

    /** A one-line summary of the edits, e.g. {@code zero-heads 2 heads; compact}. */
    static String summary(ArrayNode described) {
        List<String> parts = new ArrayList<>();
        for (JsonNode d : described) {
            String s = d.get("op").asText();
            if (d.has("heads")) {
                s += " " + d.get("heads").size() + " heads";
            }
            if (d.has("neurons")) {
                s += " " + d.get("neurons").size() + " neurons";
            }
            if (d.has("experts")) {
                s += " " + d.get("experts").size() + " experts";
            }
            if (d.has("modules")) {
                s += " " + d.get("modules").size() + " modules";
            }
            parts.add(s);
        }
        return parts.isEmpty() ? "none" : String.join("; ", parts);
    }

    /** Sorted indices as compact ranges: {@code 0-17,19,21-40}. */
    public static String ranges(int[] sorted) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < sorted.length; ) {
            int j = i;
            while (j + 1 < sorted.length && sorted[j + 1] == sorted[j] + 1) {
                j++;
            }
            if (b.length() > 0) {
                b.append(',');
            }
            b.append(sorted[i]);
            if (j > i) {
                b.append('-').append(sorted[j]);
            }
            i = j + 1;
        }
        return b.toString();
    }
}
