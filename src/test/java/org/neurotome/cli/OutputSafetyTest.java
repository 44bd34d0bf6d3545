package org.neurotome.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.output.OutputLock;
import org.neurotome.testing.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What {@code --force} will and will not replace (README "Safety"): an output that is,
 * contains or lies inside an input, the recipe or the working directory is refused with exit
 * 4 before anything runs, however the path is spelled (symbolic links, parents); an existing
 * directory that is not an earlier neurotome output is never replaced; one writer per output
 * at a time; report and findings files get the mode of any other new file.
 */
class OutputSafetyTest {
    @TempDir
    Path tmp;

    Path model;
    Path recipe;
    Map<String, String> inputHashes;

    @BeforeEach
    void setUp() throws IOException {
        model = TestModels.storiesWithFixtureTokenizer(tmp);
        recipe = tmp.resolve("recipe.yaml");
        Files.writeString(recipe, """
                model:
                  path: model
                  device: cpu
                edit:
                  - op: zero-heads
                    heads: [0.1]
                output:
                  dir: out
                """);
        Files.writeString(tmp.resolve("notes.txt"), "the user's notes\n");
        inputHashes = TestModels.contentHashes(model);
    }

    private CliRun apply(String... more) {
        List<String> args = new ArrayList<>(List.of("apply", recipe.toString()));
        args.addAll(List.of(more));
        return CliRun.of(args.toArray(String[]::new));
    }

    private void assertRefused(CliRun run, String why) throws IOException {
        assertEquals(4, run.code(), run.err());
        assertTrue(run.err().contains(why), run.err());
        assertEquals(1, run.err().lines().count(), "one line: " + run.err());
        assertEquals(inputHashes, TestModels.contentHashes(model), "the input is unchanged");
        assertEquals("the user's notes\n", Files.readString(tmp.resolve("notes.txt")));
        assertTrue(Files.exists(recipe));
    }

    @Test
    void forceNeverReplacesTheInputTheRecipeOrAFolderHoldingThem() throws IOException {
        assertRefused(apply("--out", tmp.toString(), "--force"), "contains the recipe");
        assertRefused(apply("--out", model.toString(), "--force"), "is the checkpoint named by model.path");
        assertRefused(apply("--out", model.resolve("inner").toString(), "--force"),
                "lies inside the checkpoint named by model.path");
        assertRefused(apply("--out", recipe.toString(), "--force"), "is the recipe");
        assertFalse(Files.exists(model.resolve("inner")));
    }

    @Test
    void theWorkingDirectoryAndItsParentsAreNeverAnOutput() throws IOException {
        // a dry run: were the check missing, nothing would be written all the same
        Path cwd = Path.of("").toAbsolutePath();
        assertRefused(apply("--out", ".", "--force", "--dry-run"), "is the working directory");
        assertRefused(apply("--out", cwd.getParent().toString(), "--force", "--dry-run"),
                "contains the working directory");
    }

    @Test
    void aDirectoryThatIsNotAnEarlierOutputOrARegularFileIsNeverReplaced() throws IOException {
        Path other = tmp.resolve("other");
        Files.createDirectories(other);
        Files.writeString(other.resolve("thesis.tex"), "years of work");
        assertRefused(apply("--out", other.toString(), "--force"), "is not a neurotome output");
        assertEquals("years of work", Files.readString(other.resolve("thesis.tex")));

        assertRefused(apply("--out", tmp.resolve("notes.txt").toString(), "--force"), "is not a directory");
        assertTrue(Files.isRegularFile(tmp.resolve("notes.txt")));
        CliRun inFile = apply("--out", tmp.resolve("notes.txt/out").toString(), "--dry-run");
        assertRefused(inFile, "cannot be created: " + tmp.resolve("notes.txt") + " is a file, not a directory");
        assertFalse(inFile.err().contains("--set"), "--out is not shown as an override: " + inFile.err());

        assertEquals(0, apply().code(), "a new output is written");
        assertRefused(apply(), "already exists; pass --force");
        assertRefused(apply("--dry-run"), "already exists; pass --force");
        assertEquals(0, apply("--force").code(), "an earlier output of ours is replaced with --force");
    }

    @Test
    void symbolicLinksDoNotHideTheInput() throws IOException {
        Path alias = Files.createSymbolicLink(tmp.resolve("alias"), tmp);
        assertRefused(apply("--out", alias.resolve("model").toString(), "--force"), "is the checkpoint named by model.path");
        Path linkedModel = Files.createSymbolicLink(tmp.resolve("linked-model"), model);
        assertRefused(apply("--out", linkedModel.resolve("sub").toString(), "--force"), "lies inside the checkpoint");
        assertRefused(apply("--out", linkedModel.toString(), "--force"), "is a symbolic link");

        // the recipe names the input through a link; the output spells the real directory
        Files.writeString(recipe, Files.readString(recipe).replace("path: model", "path: linked-model"));
        assertRefused(apply("--out", model.toString(), "--force"), "is the checkpoint named by model.path");
    }

    @Test
    void aSecondWriterOfTheSameOutputIsRefusedAndAStaleLockIsTakenOver() throws Exception {
        Path out = tmp.resolve("out");
        try (OutputLock held = OutputLock.acquire(out)) {
            ExecutorService other = Executors.newSingleThreadExecutor();
            try {
                CliRun run = other.submit(() -> apply()).get();
                assertRefused(run, "being written by pid " + ProcessHandle.current().pid());
            } finally {
                other.shutdown();
            }
        }
        assertFalse(Files.exists(OutputLock.lockFile(out)), "released: the lock file is gone");

        // a lock file left by a process that died holds no lock any more
        Files.writeString(OutputLock.lockFile(out), "999999999\n");
        assertEquals(0, apply().code());
        assertFalse(Files.exists(OutputLock.lockFile(out)));
    }

    @Test
    void aLockHeldByAnotherProcessNamesItsPid() throws Exception {
        Path lockFile = OutputLock.lockFile(tmp.resolve("out"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path holder = tmp.resolve("Hold.java");
        Files.writeString(holder, """
                import java.nio.channels.FileChannel;
                import java.nio.file.*;
                public class Hold {
                    public static void main(String[] a) throws Exception {
                        FileChannel ch = FileChannel.open(Path.of(a[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                        ch.lock();
                        ch.write(java.nio.ByteBuffer.wrap((ProcessHandle.current().pid() + "\\n").getBytes()));
                        System.out.println("locked");
                        System.out.flush();
                        Thread.sleep(60_000);
                    }
                }
                """);
        Process p = new ProcessBuilder(java, holder.toString(), lockFile.toString()).redirectErrorStream(true).start();
        try {
            assertEquals("locked", new String(p.getInputStream().readNBytes(6)));
            assertRefused(apply(), "being written by pid " + p.pid());
        } finally {
            p.destroyForcibly().waitFor();
        }
        assertEquals(0, apply().code(), "the dead holder's lock is stale");
    }

    @Test
    void twoConcurrentRunsToOneOutputLeaveOneResultAndOneRefusal() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Callable<Integer> run = () -> Main.execute("apply", recipe.toString());
            Future<Integer> a = pool.submit(run);
            Future<Integer> b = pool.submit(run);
            List<Integer> codes = new ArrayList<>(List.of(a.get(), b.get()));
            codes.sort(null);
            assertEquals(List.of(0, 4), codes);
        } finally {
            pool.shutdown();
        }
        assertEquals(0, Main.execute("verify", tmp.resolve("out").toString()));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList(),
                    "no partial or lock left");
        }
    }

    @Test
    void otherCommandsRefuseToWriteIntoTheirInputs() throws IOException {
        Path suite = tmp.resolve("suite.yaml");
        Files.writeString(suite, """
                name: quick
                tasks:
                  - kind: language
                    dataset: %s
                    limit: 2
                """.formatted(Path.of("eval/datasets/language.jsonl").toAbsolutePath()));
        assertRefused(CliRun.of("eval", model.toString(), "--suite", suite.toString(), "--out", model.toString()),
                "is the model");
        assertRefused(CliRun.of("eval", model.toString(), "--suite", suite.toString(), "--out",
                tmp.resolve("notes.txt").toString()), "exists and is not a directory");
        Files.writeString(tmp.resolve("report.json"), "{\"mine\": true}");
        assertRefused(CliRun.of("eval", model.toString(), "--suite", suite.toString(), "--out", tmp.toString()),
                "report.json: exists and is not a report.json written by neurotome");

        assertRefused(CliRun.of("locate", model.toString(), "--method", "attribution", "--prompt", "3+5=",
                "--json", tmp.resolve("notes.txt").toString()), "is not a findings JSON written by neurotome");
        assertRefused(CliRun.of("locate", model.toString(), "--method", "attribution", "--prompt", "3+5=",
                "--svg", model.resolve("config.json").toString()), "lies inside the model");
        assertRefused(CliRun.of("locate", model.toString(), "--method", "attribution", "--prompt", "3+5=",
                "--json", tmp.toString()), "is a directory");

        Path fixtureOut = tmp.resolve("fixtures");
        Files.createDirectories(fixtureOut.resolve("fixture-gpt2"));
        Files.writeString(fixtureOut.resolve("fixture-gpt2").resolve("mine.txt"), "x");
        assertRefused(CliRun.of("fixtures", "build", "--family", "gpt2", "--out", fixtureOut.toString(), "--force"),
                "is not a neurotome output");

        assertRefused(CliRun.of("datasets", "--out", tmp.resolve("notes.txt").toString()), "is not a directory");
    }

    @Test
    void reportsAndFindingsGetTheModeOfAnyNewFile() throws IOException {
        Path probe = Files.writeString(tmp.resolve("probe"), "x");
        Set<PosixFilePermission> usual = Files.getPosixFilePermissions(probe);
        Path findings = tmp.resolve("f.json");
        Path chart = tmp.resolve("f.svg");
        assertEquals(0, CliRun.of("locate", model.toString(), "--method", "attribution", "--prompt", "3+5=",
                "--json", findings.toString(), "--svg", chart.toString()).code());
        assertEquals(usual, Files.getPosixFilePermissions(findings));
        assertEquals(usual, Files.getPosixFilePermissions(chart));
        assertEquals(0, CliRun.of("datasets", "--out", tmp.resolve("sets").toString()).code());
        assertEquals(usual, Files.getPosixFilePermissions(tmp.resolve("sets/language.jsonl")));

        // a rerun replaces its own earlier findings and chart
        assertEquals(0, CliRun.of("locate", model.toString(), "--method", "attribution", "--prompt", "3+5=",
                "--json", findings.toString(), "--svg", chart.toString()).code());
    }

    /**
     * A lock file name planted as a symbolic link or a hard link to someone else's file is never
     * written through: the run is refused (exit 4) and the file keeps its bytes.
     */
    @Test
    void aPlantedLockFileLinkIsRefusedNeverWrittenThrough() throws IOException {
        Path lock = OutputLock.lockFile(tmp.resolve("out"));
        Files.createSymbolicLink(lock, tmp.resolve("notes.txt"));
        assertRefused(apply(), "is a symbolic link; refusing to write through it");
        assertTrue(Files.isSymbolicLink(lock), "the planted link is left for its owner to see");
        Files.delete(lock);

        Files.createLink(lock, tmp.resolve("notes.txt"));
        assertRefused(apply(), "hard links");
        Files.delete(lock);
        assertFalse(Files.exists(tmp.resolve("out")));
        assertEquals(0, apply().code(), "with the link gone the run goes ahead");
    }

    /**
     * An archive's partial file planted as a link to someone else's file is removed, not written
     * through: the archive is a regular file of its own and the victim keeps its bytes.
     */
    @Test
    void aPlantedArchivePartialIsReplacedNeverWrittenThrough() throws IOException {
        assertEquals(0, apply().code());
        Path archive = tmp.resolve("out.tar.gz");
        Path partial = tmp.resolve(".out.tar.gz.partial-" + ProcessHandle.current().pid());
        Files.createSymbolicLink(partial, tmp.resolve("notes.txt"));
        assertEquals(0, Main.execute("package", tmp.resolve("out").toString()));
        assertEquals("the user's notes\n", Files.readString(tmp.resolve("notes.txt")));
        assertTrue(Files.isRegularFile(archive, java.nio.file.LinkOption.NOFOLLOW_LINKS), "the archive is no link");
        assertEquals(0, Main.execute("verify", archive.toString()));

        Files.createLink(partial, tmp.resolve("notes.txt"));
        assertEquals(0, Main.execute("package", tmp.resolve("out").toString(), "--force"));
        assertEquals("the user's notes\n", Files.readString(tmp.resolve("notes.txt")));
        assertFalse(Files.exists(partial, java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * Everything a run reads is an input, resolved through links: the eval suite file itself (not
     * only its data sets), and the file a link inside the input checkpoint points to — here the
     * earlier output's weights, which replacing that output would delete.
     */
    @Test
    void theSuiteFileAndTheTargetsOfLinksInTheInputAreInputsToo() throws IOException {
        assertEquals(0, apply().code());
        Path out = tmp.resolve("out");
        Files.writeString(tmp.resolve("language.jsonl"),
                "{\"prompt\":\"The farmer\",\"target\":\" was clean.\",\"labels\":{\"kind\":\"language\"}}\n");
        Files.writeString(out.resolve("suite.yaml"), """
                name: kept-in-the-output
                tasks:
                  - kind: language
                    dataset: ../language.jsonl
                """);
        String plain = Files.readString(recipe);
        Files.writeString(recipe, plain + "eval:\n  suite: out/suite.yaml\n");
        assertRefused(apply("--force"), "contains the file named by eval.suite");
        assertTrue(Files.exists(out.resolve("suite.yaml")));
        Files.delete(out.resolve("suite.yaml"));

        Path linked = Files.createDirectories(tmp.resolve("linked"));
        try (Stream<Path> files = Files.list(model)) {
            for (Path f : files.filter(f -> !f.getFileName().toString().endsWith(".safetensors")).toList()) {
                Files.copy(f, linked.resolve(f.getFileName()));
            }
        }
        Files.createSymbolicLink(linked.resolve("model.safetensors"), Path.of("../out/model.safetensors"));
        Files.writeString(recipe, plain.replace("path: model", "path: linked"));
        String weights = org.neurotome.Sha256.hex(out.resolve("model.safetensors"));
        assertRefused(apply("--force"), "contains the target of the link model.safetensors in the checkpoint named by model.path");
        assertEquals(weights, org.neurotome.Sha256.hex(out.resolve("model.safetensors")), "the linked weights are still there");
    }
}
