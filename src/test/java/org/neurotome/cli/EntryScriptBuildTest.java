package org.neurotome.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code scripts/neurotome}'s first build, as a newcomer sees it: it says the build happens
 * once and about how long it takes, then shows that it is moving (the elapsed time and Maven's
 * current module and step), and says how long it took; a failed build names its log. The
 * script runs in a copy of the project's layout with a stand-in {@code mvn} first on the PATH
 * that prints Maven's lines slowly and writes the jars.
 */
class EntryScriptBuildTest {
    @TempDir
    Path tmp;

    @Test
    void theFirstBuildSaysItIsOneTimeAndShowsItsProgress() throws Exception {
        Run run = runScript("""
                echo '[INFO] Building neurotome-core 0.1.0 [2/3]'
                echo '[INFO] --- maven-compiler-plugin:3.14.0:compile (default-compile) @ neurotome-core ---'
                sleep 2
                echo '[INFO] --- maven-jar-plugin:3.4.2:jar (default-jar) @ neurotome-core ---'
                sleep 2
                mkdir -p target spark/target
                touch target/neurotome.jar spark/target/neurotome-spark.jar
                """);
        List<String> lines = run.err.lines().toList();
        assertTrue(lines.getFirst().contains("a one-time build (about 2 minutes on 2 cores"), run.err);
        assertTrue(lines.stream().anyMatch(l -> l.matches("neurotome: building, 0:0\\d: module \\[2/3], compile")), run.err);
        assertTrue(lines.stream().anyMatch(l -> l.matches("neurotome: building, 0:0\\d: module \\[2/3], jar")), run.err);
        assertTrue(lines.stream().anyMatch(l -> l.matches("neurotome: built in 0:0\\d")), run.err);
        assertFalse(Files.exists(tmp.resolve("project/target-build.log")), "the log of a good build is removed");
    }

    @Test
    void aFailedBuildNamesItsLog() throws Exception {
        Run run = runScript("""
                echo '[ERROR] COMPILATION ERROR'
                exit 1
                """);
        assertEquals(5, run.code, run.err);
        assertTrue(run.err.contains("neurotome: the build failed; see " + tmp.resolve("project/target-build.log")), run.err);
        assertTrue(Files.readString(tmp.resolve("project/target-build.log")).contains("COMPILATION ERROR"));
    }

    private record Run(int code, String err) {
    }

    /** The entry script in a copy of the project's layout without jars, {@code mvn} doing {@code fakeMaven}. */
    private Run runScript(String fakeMaven) throws IOException, InterruptedException {
        Path project = tmp.resolve("project");
        for (String dir : List.of("scripts", "src/main", "spark/src/main", "core")) {
            Files.createDirectories(project.resolve(dir));
        }
        for (String pom : List.of("pom.xml", "core/pom.xml", "spark/pom.xml")) {
            Files.writeString(project.resolve(pom), "<project/>");
        }
        Path script = Files.copy(Path.of("scripts/neurotome"), project.resolve("scripts/neurotome"));
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        executable(bin.resolve("mvn"), "#!/usr/bin/env bash\n" + fakeMaven);
        executable(script, Files.readString(script));
        ProcessBuilder pb = new ProcessBuilder(script.toString(), "--version").redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the script finished");
        return new Run(p.exitValue(), err);
    }

    private static void executable(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
