package org.neurotome.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.AtomicFile;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.Sha256;
import org.neurotome.Tool;
import org.neurotome.archive.ArchiveCache;
import org.neurotome.output.OutputMarker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * {@code manifest.json}: the provenance of a checkpoint neurotome wrote — every output
 * file's SHA-256 (the eval report and model card added once they are written), the input
 * checkpoint's fingerprint, the recipe's hash, the edits with the tensors and indices they
 * touched, and the steps that located them — and the check {@code neurotome verify} runs
 * against it. It holds nothing that varies from run to run.
 */
public final class Manifest {
    public static final String FILE = OutputMarker.FILE;
    public static final String FORMAT = OutputMarker.FORMAT;

    /**
     * Fingerprints already computed in this process, by directory, with the names, sizes and
     * modification times they were computed from: one {@code apply} hashes its input once, not
     * once for the output's provenance, once per analysis and once more as the eval baseline.
     */
    private static final Map<Path, String[]> FINGERPRINTS = new java.util.concurrent.ConcurrentHashMap<>();

    private Manifest() {
    }

    /** The manifest document: {@code sections} (input, recipe, edits, steps, ...) plus the file hashes. */
    public static byte[] render(Map<String, String> fileHashes, Map<String, JsonNode> sections) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("format", FORMAT);
        root.putObject("tool").put("name", "neurotome").put("version", Tool.version());
        sections.forEach(root::set);
        ObjectNode files = root.putObject("files");
        new TreeMap<>(fileHashes).forEach(files::put);
        try {
            return (Json.pretty().writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A checkpoint's identity: SHA-256 over the sorted lines {@code "<sha256>  <file>"} of its
     * config, tokenizer, index and safetensors files (what {@code sha256sum} would print); an
     * archive's is that of the checkpoint inside it. A file unchanged since an earlier
     * command hashed it is not read again ({@link ArchiveCache#sha256}).
     */
    public static String fingerprint(Path checkpoint) {
        Path dir = ArchiveCache.directoryOf(checkpoint);
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> hashed = new java.util.ArrayList<>();
            StringBuilder stamp = new StringBuilder();
            for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                String name = f.getFileName().toString();
                if (name.endsWith(".safetensors") || name.endsWith(".json") && !name.equals(FILE)) {
                    hashed.add(f);
                    stamp.append(name).append(' ').append(Files.size(f)).append(' ')
                            .append(Files.getLastModifiedTime(f).toMillis()).append('\n');
                }
            }
            Path key = dir.toAbsolutePath().normalize();
            String[] known = FINGERPRINTS.get(key);
            if (known != null && known[0].contentEquals(stamp)) {
                return known[1];
            }
            MessageDigest digest = Sha256.digest();
            List<String> hashes = ArchiveCache.sha256(hashed);
            for (int i = 0; i < hashed.size(); i++) {
                digest.update((hashes.get(i) + "  " + hashed.get(i).getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            String fingerprint = HexFormat.of().formatHex(digest.digest());
            FINGERPRINTS.put(key, new String[] {stamp.toString(), fingerprint});
            return fingerprint;
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(dir + ": cannot hash: " + NeurotomeException.reason(e));
        }
    }

    /**
     * The manifest section naming files still to be written into the directory after the
     * manifest (the eval reports and model card of a recipe run), before the output is moved into
     * place; {@link #addFiles} hashes them and takes them off. A finished output has none left.
     */
    public static final String WRITTEN_AFTER = "written_after";

    /**
     * Adds files written into {@code dir} after its manifest (the eval reports, the model card)
     * to the manifest's {@code files}, with their SHA-256, so {@code verify} checks them too,
     * and takes them off its {@link #WRITTEN_AFTER} list; {@code names} are relative paths with
     * {@code /}. The manifest is rewritten atomically.
     */
    public static void addFiles(Path dir, List<String> names) {
        Path file = dir.resolve(FILE);
        ObjectNode manifest = Checkpoint.readJsonObject(file);
        Map<String, String> files = new TreeMap<>();
        manifest.path("files").properties().forEach(e -> files.put(e.getKey(), e.getValue().asText()));
        try {
            for (String name : names) {
                files.put(name, Sha256.hex(dir.resolve(name)));
            }
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(dir + ": cannot hash what was written: " + e.getMessage(), e);
        }
        ObjectNode listed = manifest.putObject("files");
        files.forEach(listed::put);
        if (manifest.path(WRITTEN_AFTER).isArray()) {
            com.fasterxml.jackson.databind.node.ArrayNode still = Json.MAPPER.createArrayNode();
            manifest.path(WRITTEN_AFTER).forEach(n -> {
                if (!names.contains(n.asText())) {
                    still.add(n);
                }
            });
            if (still.isEmpty()) {
                manifest.remove(WRITTEN_AFTER);
            } else {
                manifest.set(WRITTEN_AFTER, still);
            }
        }
        try {
            AtomicFile.write(file, Json.pretty().writeValueAsString(manifest) + "\n");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One line of a verification: the file (relative, '/'-separated), what the manifest says, what is there now. */
    public record Check(String file, String expected, String actual) {
        public boolean ok() {
            return expected.equals(actual);
        }
    }

    /**
     * Compares the directory's full file list, subdirectories included, with the manifest of
     * {@code dir}: every listed file is re-hashed (or found missing), and every other file is a
     * mismatch. A file the manifest names as still to be written after it ({@link #WRITTEN_AFTER}:
     * the eval reports and model card of a recipe run) is a mismatch too: the run that wrote the
     * directory did not finish. A missing or malformed manifest is a BAD_CHECKPOINT error.
     */
    public static List<Check> verify(Path dir) {
        Path file = dir.resolve(FILE);
        ObjectNode manifest = Checkpoint.readJsonObject(file);
        if (!FORMAT.equals(manifest.path("format").asText()) || !manifest.path("files").isObject()) {
            throw NeurotomeException.badCheckpoint(file + ": not a " + FORMAT + " manifest (needs \"format\": \""
                    + FORMAT + "\" and a \"files\" object)");
        }
        Map<String, String> listed = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = manifest.get("files").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            listed.put(e.getKey(), e.getValue().asText());
        }
        java.util.Set<String> after = new java.util.TreeSet<>();
        manifest.path(WRITTEN_AFTER).forEach(n -> after.add(n.asText()));
        try (Stream<Path> files = Files.walk(dir)) {
            List<Check> checks = new java.util.ArrayList<>();
            for (Map.Entry<String, String> e : listed.entrySet()) {
                Path f = dir.resolve(e.getKey());
                checks.add(new Check(e.getKey(), e.getValue(), Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        ? Sha256.hex(f) : Files.exists(f) ? "not a regular file" : "missing"));
            }
            for (String name : after) {
                if (!listed.containsKey(name)) {
                    checks.add(new Check(name, "to be written before the output was finished", (Files.exists(dir.resolve(name),
                            java.nio.file.LinkOption.NOFOLLOW_LINKS) ? "present but never hashed" : "missing")
                            + ": the run that wrote it did not finish"));
                }
            }
            for (Path f : files.filter(p -> !Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)).sorted().toList()) {
                String name = dir.relativize(f).toString().replace(java.io.File.separatorChar, '/');
                if (listed.containsKey(name) || after.contains(name) || name.equals(FILE)) {
                    continue;
                }
                checks.add(new Check(name, "not listed", Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        ? Sha256.hex(f) : "not a regular file"));
            }
            return checks;
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(dir + ": cannot read: " + NeurotomeException.reason(e));
        }
    }
}
