package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;
import org.neurotome.archive.ArchiveCache;
import org.neurotome.archive.ArchiveFormat;
import org.neurotome.archive.ArchiveWriter;
import org.neurotome.testing.TestModels;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The release flow end to end on a small real model (stories260K with the fixture tokenizer):
 * apply with gates and an archive, the model card, two runs giving byte-identical archives,
 * every reading command giving the same answer on the archive as on the directory, verify on a
 * good and on a tampered archive, package checking the manifest first, and an archive as the
 * input of a recipe.
 */
class ReleaseFlowTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @TempDir
    Path tmp;

    private String cacheBefore;

    @BeforeEach
    void privateCache() {
        cacheBefore = System.getProperty(ArchiveCache.DIR_PROPERTY);
        System.setProperty(ArchiveCache.DIR_PROPERTY, tmp.resolve("cache").toString());
    }

    @AfterEach
    void restoreCache() {
        if (cacheBefore == null) {
            System.clearProperty(ArchiveCache.DIR_PROPERTY);
        } else {
            System.setProperty(ArchiveCache.DIR_PROPERTY, cacheBefore);
        }
    }

    private Path suite() throws IOException {
        Path datasets = Path.of("eval/datasets").toAbsolutePath();
        Path file = tmp.resolve("suite.yaml");
        Files.writeString(file, """
                name: quick
                tasks:
                  - kind: arithmetic
                    dataset: %s/arithmetic.jsonl
                    where: {template: 3, digits: 1}
                    limit: 6
                  - kind: language
                    dataset: %s/language.jsonl
                    limit: 6
                """.formatted(datasets, datasets));
        return file;
    }

    private Path recipe(String gate) throws IOException {
        suite();
        Path file = tmp.resolve("release.yaml");
        Files.writeString(file, """
                description: zero the two heads that matter most for one prompt
                model:
                  path: model
                  device: cpu
                  name: karpathy/tinyllamas
                locate:
                  - id: scan
                    method: head-scan
                    prompts: ["3+5="]
                    top: 5
                select:
                  - id: top_heads
                    from: scan
                    top: 2
                edit:
                  - op: zero-heads
                    heads: ${top_heads}
                output:
                  dir: out
                  archive: tar.gz
                eval:
                  suite: suite.yaml
                  gates:
                    - %s
                """.formatted(gate));
        return file;
    }

    @Test
    void applyGatesArchivesAndTheArchiveIsReproducibleAndVerifiable() throws Exception {
        Path model = TestModels.storiesWithFixtureTokenizer(tmp);
        Files.writeString(model.resolve("README.md"), "---\nlicense: mit\n---\n# stories260K\n");
        Path recipe = recipe("language.perplexity.rel_change <= 10");
        String plan = CliRun.stdout(0, "apply", recipe.toString(), "--dry-run");
        assertTrue(plan.contains("archive  " + tmp.resolve("out.tar.gz") + ", when every gate passes"), plan);
        String stdout = CliRun.stdout(0, "apply", recipe.toString());
        Path out = tmp.resolve("out");
        Path archive = tmp.resolve("out.tar.gz");
        assertTrue(stdout.contains("wrote " + archive), stdout);

        String card = Files.readString(out.resolve("README.md"));
        JsonNode front = YAML.readTree(card.substring(4, card.indexOf("\n---\n", 4)));
        assertEquals("karpathy/tinyllamas", front.get("base_model").asText(), "the recipe's model.name");
        assertEquals("mit", front.get("license").asText(), "the input card's license is passed on");
        assertTrue(card.contains("2 attention heads zeroed"), card);
        assertTrue(card.contains("`top_heads`: 2 heads selected from `scan`: head-scan on 1 prompt \"3+5=\""), card);
        assertTrue(card.contains("| `language.perplexity.rel_change <= 10` |"), card);

        byte[] first = Files.readAllBytes(archive);
        assertEquals(4, Main.execute("apply", recipe.toString()), "an existing archive is refused without --force");
        CliRun.stdout(0, "apply", recipe.toString(), "--force");
        assertArrayEquals(first, Files.readAllBytes(archive), "two runs give a byte-identical archive");

        String verified = CliRun.stdout(0, "verify", archive.toString());
        assertTrue(verified.contains("README.md") && verified.contains("eval/report.json"), verified);
        assertTrue(verified.endsWith(archive + ": 10 files match manifest.json\n") && !verified.contains("MISMATCH"), verified);

        // package writes the same bytes from the directory; a changed file stops it before anything is written
        Path packaged = tmp.resolve("again.tar.gz");
        CliRun.stdout(0, "package", out.toString(), "--out", packaged.toString());
        assertArrayEquals(first, Files.readAllBytes(packaged));
        CliRun.stdout(0, "package", out.toString(), "--format", "tar");
        assertTrue(Files.isRegularFile(tmp.resolve("out.tar")));
        Files.writeString(out.resolve("findings.json"), " ", java.nio.file.StandardOpenOption.APPEND);
        CliRun refused = CliRun.of("package", out.toString(), "--format", "tar.zst");
        assertEquals(3, refused.code());
        assertTrue(refused.err().contains("findings.json"), refused.err());
        assertFalse(Files.exists(tmp.resolve("out.tar.zst")), "nothing is written when the manifest does not match");
    }

    @Test
    void tamperedArchivesFailVerify() throws Exception {
        TestModels.storiesWithFixtureTokenizer(tmp);
        CliRun.stdout(0, "apply", recipe("language.perplexity.rel_change <= 10").toString(), "--set", "output.archive=tar");
        Path archive = tmp.resolve("out.tar");
        assertEquals(0, Main.execute("verify", archive.toString()));

        // one byte of the weights changed inside an uncompressed archive: the archive reads, the hash does not match
        byte[] bytes = Files.readAllBytes(archive);
        int at = header(bytes, "model.safetensors") + 512 + 100_000;
        Path tampered = tmp.resolve("tampered.tar");
        bytes[at] ^= 0x01;
        Files.write(tampered, bytes);
        CliRun r = CliRun.of("verify", tampered.toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.out().contains("model.safetensors") && r.out().contains("MISMATCH"), r.out());

        // a flipped byte in a compressed archive breaks the stream itself
        Path gz = tmp.resolve("out.tar.gz");
        CliRun.stdout(0, "package", tmp.resolve("out").toString(), "--format", "tar.gz");
        try (RandomAccessFile f = new RandomAccessFile(gz.toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 0xff);
        }
        CliRun broken = CliRun.of("verify", gz.toString());
        assertEquals(3, broken.code(), broken.err());
        assertTrue(broken.err().startsWith("error: " + gz + ": "), broken.err());
    }

    /**
     * The cache holds each archive unpacked once; a changed entry is never used: verify checks
     * the bytes it unpacks from the archive itself (and its copy replaces the changed entry), and
     * predict reads the archive's weights, not the changed ones.
     */
    @Test
    void aChangedCacheEntryIsNeitherVerifiedNorRead() throws Exception {
        TestModels.storiesWithFixtureTokenizer(tmp);
        CliRun.stdout(0, "apply", recipe("language.perplexity.rel_change <= 10").toString(), "--set", "output.archive=tar");
        String archive = tmp.resolve("out.tar").toString();
        String expected = CliRun.stdout(0, "predict", tmp.resolve("out").toString(), "--prompt", "3+5=", "--top", "5", "--json");
        assertEquals(expected, CliRun.stdout(0, "predict", archive, "--prompt", "3+5=", "--top", "5", "--json"));

        Path cached = ArchiveCache.directoryOf(tmp.resolve("out.tar")).resolve("model.safetensors");
        tamper(cached);
        CliRun verified = CliRun.of("verify", archive);
        assertEquals(0, verified.code(), verified.out() + verified.err());
        assertFalse(verified.out().contains("MISMATCH"), verified.out());
        tamper(ArchiveCache.directoryOf(tmp.resolve("out.tar")).resolve("model.safetensors"));
        assertEquals(expected, CliRun.stdout(0, "predict", archive, "--prompt", "3+5=", "--top", "5", "--json"),
                "the archive's weights, not the changed copy");
    }

    /** Overwrites a block in the middle of a cached weights file (made writable first). */
    private static void tamper(Path weights) throws IOException {
        weights.toFile().setWritable(true);
        try (RandomAccessFile f = new RandomAccessFile(weights.toFile(), "rw")) {
            byte[] block = new byte[64 * 1024];
            java.util.Arrays.fill(block, (byte) 0x41);
            f.seek(f.length() / 2);
            f.write(block);
        }
    }

    @Test
    void anErrorInsideAnArchiveNamesTheArchiveNotTheCache() throws Exception {
        Path model = TestModels.storiesWithFixtureTokenizer(tmp);
        Files.writeString(model.resolve("config.json"), "{\"model_type\": \"llama\",");
        Path archive = tmp.resolve("broken.tar.gz");
        ArchiveWriter.write(model, ArchiveFormat.TAR_GZ, archive, false);
        CliRun r = CliRun.of("inspect", archive.toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().startsWith("error: " + archive + "!/config.json:1:"), r.err());
        assertFalse(r.err().contains(org.neurotome.archive.ArchiveCache.root().toString()), r.err());
    }

    @Test
    void readingCommandsGiveTheSameAnswerOnTheArchiveAsOnTheDirectory() throws Exception {
        Path model = TestModels.storiesWithFixtureTokenizer(tmp);
        Path archive = tmp.resolve("model.tar.zst");
        ArchiveWriter.write(model, ArchiveFormat.TAR_ZST, archive, false);
        String dir = model.toString();
        String arc = archive.toString();

        assertEquals(CliRun.stdout(0, "predict", dir, "--prompt", "3+5=", "--top", "5", "--json"),
                CliRun.stdout(0, "predict", arc, "--prompt", "3+5=", "--top", "5", "--json"));
        assertEquals(CliRun.stdout(0, "generate", dir, "--prompt", "3+5=", "--max-new", "4", "--json"),
                CliRun.stdout(0, "generate", arc, "--prompt", "3+5=", "--max-new", "4", "--json"));
        assertEquals(withoutPaths(CliRun.stdout(0, "inspect", dir, "--json")),
                withoutPaths(CliRun.stdout(0, "inspect", arc, "--json")));

        Path f1 = tmp.resolve("dir.json");
        Path f2 = tmp.resolve("arc.json");
        CliRun.stdout(0, "locate", dir, "--method", "cna", "--prompt", "3+5=", "--contrast", "3+6=", "--top", "10",
                "--json", f1.toString(), "--device", "cpu");
        CliRun.stdout(0, "locate", arc, "--method", "cna", "--prompt", "3+5=", "--contrast", "3+6=", "--top", "10",
                "--json", f2.toString(), "--device", "cpu");
        assertEquals(withoutPaths(Files.readString(f1)), withoutPaths(Files.readString(f2)),
                "the same findings, the same model fingerprint");

        Path r1 = tmp.resolve("eval-dir");
        Path r2 = tmp.resolve("eval-arc");
        CliRun.stdout(0, "eval", dir, "--suite", suite().toString(), "--baseline", arc, "--out", r1.toString(), "--device", "cpu");
        CliRun.stdout(0, "eval", arc, "--suite", suite().toString(), "--baseline", dir, "--out", r2.toString(), "--device", "cpu");
        JsonNode a = withoutPaths(Files.readString(r1.resolve("report.json")));
        JsonNode b = withoutPaths(Files.readString(r2.resolve("report.json")));
        for (JsonNode r : List.of(a, b)) {
            ((ObjectNode) r).remove("timings");
        }
        assertEquals(a, b, "the same metrics and the same fingerprints, whichever side is the archive");
        assertEquals(a.get("model").get("sha256"), a.get("baseline").get("sha256"));
    }

    @Test
    void anArchiveIsARecipeInputAndAFailedGateWritesNoArchive() throws Exception {
        Path model = TestModels.storiesWithFixtureTokenizer(tmp);
        Path archive = tmp.resolve("input.tar.gz");
        ArchiveWriter.write(model, ArchiveFormat.TAR_GZ, archive, false);
        Path recipe = recipe("arithmetic.accuracy >= 0.99");
        CliRun failed = CliRun.of("apply", recipe.toString(), "--set", "model.path=input.tar.gz", "--set", "model.name=null",
                "--archive", "tar.zst");
        assertEquals(1, failed.code(), failed.err());
        assertTrue(failed.err().contains("no archive: a gate failed"), failed.err());
        assertFalse(Files.exists(tmp.resolve("out.tar.zst")));
        // an archive of an earlier, passing run does not stay beside an output that now fails
        Files.writeString(tmp.resolve("out.tar.zst"), "earlier");
        assertEquals(1, Main.execute("apply", recipe.toString(), "--set", "model.path=input.tar.gz", "--set", "model.name=null",
                "--archive", "tar.zst", "--force"));
        assertFalse(Files.exists(tmp.resolve("out.tar.zst")));
        String card = Files.readString(tmp.resolve("out/README.md"));
        assertTrue(card.startsWith("---\nbase_model: input\n"), "the archive's name without its extension: " + card);
        assertTrue(card.contains("**FAILED**") && card.contains("must not ship"), card);
        JsonNode manifest = Json.MAPPER.readTree(tmp.resolve("out/manifest.json").toFile());
        assertEquals(org.neurotome.checkpoint.Manifest.fingerprint(model), manifest.get("input").get("sha256").asText(),
                "the input's fingerprint is that of the checkpoint inside the archive");
        assertEquals(2, Main.execute("apply", recipe.toString(), "--archive", "zip", "--force"));
        // an archive that would replace the input archive is refused before anything runs
        CliRun over = CliRun.of("apply", recipe.toString(), "--set", "model.path=input.tar.gz",
                "--out", tmp.resolve("input").toString(), "--archive", "tar.gz", "--force");
        assertEquals(4, over.code(), over.err());
        assertTrue(over.err().contains("model.path") && over.err().contains("must not replace an input"), over.err());
        assertFalse(Files.exists(tmp.resolve("input")), "nothing was written");
    }

    /** A JSON document with every {@code path} and {@code name} field removed (they name where a checkpoint was read). */
    private static JsonNode withoutPaths(String json) throws IOException {
        JsonNode node = Json.MAPPER.readTree(json);
        strip(node);
        return node;
    }

    private static void strip(JsonNode node) {
        if (node instanceof ObjectNode o) {
            o.remove(List.of("path", "name", "dir"));
        }
        node.forEach(ReleaseFlowTest::strip);
    }

    /** The offset of the tar header block of entry {@code name} (headers sit on 512-byte boundaries). */
    private static int header(byte[] tar, String name) {
        byte[] field = (name + "\0").getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i + 512 <= tar.length; i += 512) {
            if (java.util.Arrays.equals(tar, i, i + field.length, field, 0, field.length)) {
                return i;
            }
        }
        throw new AssertionError("no header for " + name);
    }
}
