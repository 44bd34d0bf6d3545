package org.neurotome.surgery;

import org.neurotome.NeurotomeException;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.Manifest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Which files of an input checkpoint an edited one carries besides its weights and config: an
 * explicit allow-list of what {@code transformers} loads with a model (the file names its
 * {@code from_pretrained} looks for: generation config, tokenizer files, chat template) and
 * the licence files its terms travel with. Everything else in the input's folder — weights in
 * other formats ({@code pytorch_model.bin}, {@code tf_model.h5}, {@code *.gguf}, {@code *.pt},
 * which would ship the unedited model beside the edited one), code, folders, an earlier run's
 * records, anything unknown — is left out and listed with the reason in the manifest's
 * {@code left_out}; hidden files (names starting with a dot, such as {@code .gitattributes})
 * are skipped without a word. Copied files are streamed, never read whole.
 */
public record CopiedFiles(Map<String, Path> copied, Map<String, String> leftOut) {
    /** The manifest section listing what was left out, by file name, with the reason. */
    public static final String SECTION = "left_out";

    /** Files a checkpoint needs besides config.json and its weights, by exact name. */
    static final Set<String> ALLOWED = Set.of(
            "generation_config.json",
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
            "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "spiece.model",
            "chat_template.json", "chat_template.jinja");

    /** Licence and notice files, by the start of their lower-cased name (LICENSE, LICENSE.txt, LICENCE-MODEL, NOTICE, USE_POLICY.md). */
    private static final Set<String> LICENCE_PREFIXES = Set.of("license", "licence", "notice", "use_policy");

    /** Suffixes of weight files in formats other than safetensors. */
    private static final Set<String> OTHER_WEIGHTS = Set.of(".bin", ".pt", ".pth", ".h5", ".msgpack", ".gguf", ".ggml",
            ".onnx", ".ckpt", ".npz", ".tflite", ".ot", ".pkl");

    /** Files that record an earlier run or describe the input model: the output gets its own. */
    private static final Set<String> RUN_FILES = Set.of(Manifest.FILE, "recipe.yaml", "findings.json", "report.json",
            "report.html", "README.md");

    /** Sorts the files of {@code input}'s folder into copied and left out. */
    public static CopiedFiles of(Checkpoint input) {
        Path dir = input.dir();
        Set<Path> tensors = Set.copyOf(input.shardFiles().stream().map(p -> p.toAbsolutePath().normalize()).toList());
        Map<String, Path> copied = new TreeMap<>();
        Map<String, String> leftOut = new TreeMap<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path f : list.sorted().toList()) {
                String name = f.getFileName().toString();
                if (name.startsWith(".") || name.equals(Checkpoint.CONFIG) || name.equals(Checkpoint.INDEX)
                        || tensors.contains(f.toAbsolutePath().normalize())) {
                    continue;
                }
                String why = reasonToLeaveOut(name, Files.isDirectory(f), Files.isRegularFile(f));
                if (why == null) {
                    copied.put(name, f);
                } else {
                    leftOut.put(name, why);
                }
            }
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(dir + ": cannot read: " + NeurotomeException.reason(e));
        }
        return new CopiedFiles(copied, leftOut);
    }

    /** Why a file of the input is not copied, or null when it is. */
    static String reasonToLeaveOut(String name, boolean folder, boolean regular) {
        String lower = name.toLowerCase(Locale.ROOT);
        if (folder) {
            return "a folder: not part of a checkpoint (other formats of the weights often live in one)";
        }
        if (!regular) {
            return "not a regular file";
        }
        if (ALLOWED.contains(name) || LICENCE_PREFIXES.stream().anyMatch(lower::startsWith)) {
            return null;
        }
        if (RUN_FILES.contains(name)) {
            return name.equals("README.md") ? "the input's model card: the output gets its own"
                    : "a record of an earlier run: the output gets its own";
        }
        if (lower.endsWith(".safetensors") || OTHER_WEIGHTS.stream().anyMatch(lower::endsWith)
                || lower.endsWith(".index.json")) {
            return "weights (or their index) outside the checkpoint's own tensor files: copying them would ship"
                    + " unedited weights beside the edited ones";
        }
        if (lower.endsWith(".py")) {
            return "code: the supported model families load without it";
        }
        return "not a file a checkpoint needs (kept: config, generation config, tokenizer, chat template, licence)";
    }
}
