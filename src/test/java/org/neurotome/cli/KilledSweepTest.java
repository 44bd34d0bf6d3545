package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A sweep killed (SIGKILL) in the middle of a unit, after another unit finished, resumes on the
 * next run: every unit the killed run finished (a variant's {@code result.json}, the shared
 * ranking, the baseline's scores) is reused and nothing else is, the checkpoint the killed unit
 * was writing is not taken for a finished one, and {@code sweep.json} has the rows (metrics,
 * gates, model SHA-256) of the same sweep never interrupted. The killed sweep's JVM sees one
 * processor, so its three variants run one after the other and the kill finds one finished and
 * one running.
 */
class KilledSweepTest {
    static final List<String> SWEEP = List.of("sweep", "recipes/gender-debias.yaml", "--grid", "locate.0.top=12,15,18",
            "--threads", "1", "--json");

    @TempDir
    Path tmp;

    @Test
    void aKilledSweepResumesWithEveryFinishedUnit() throws Exception {
        Path dir = tmp.resolve("killed");
        Process p = start(dir);
        Path running = awaitUnitMidWrite(p, dir.resolve("units"));
        assertTrue(running != null, "a unit finished and another was seen running: "
                + Files.readString(tmp.resolve("log.txt")));
        p.destroyForcibly().waitFor();
        assertEquals(137, p.exitValue(), "killed by SIGKILL");
        assertFalse(Files.exists(dir.resolve("sweep.json")), "killed before the sweep ended");
        assertFalse(Files.exists(running.resolve("result.json")), "the unit killed mid-way has no result");
        assertFalse(Files.exists(running.resolve("model")), "nor a checkpoint that looks finished");
        int finished = finished(dir.resolve("units"));
        assertTrue(finished >= 3, "a variant, the ranking and the baseline it used had finished: " + finished + "\n"
                + Files.readString(tmp.resolve("log.txt")));

        CliRun resumed = CliRun.of(args(dir));
        assertEquals(0, resumed.code(), resumed.err());
        JsonNode doc = Json.MAPPER.readTree(resumed.out());
        assertEquals(5, doc.at("/units/planned").asInt(), "three variants, a ranking and a baseline");
        assertEquals(finished, doc.at("/units/reused").asInt(), "exactly the finished units are reused: " + resumed.err());
        assertEquals(5 - finished, doc.at("/units/run").asInt());
        assertTrue(resumed.err().contains(", " + finished + " reused"), resumed.err());

        CliRun whole = CliRun.of(args(tmp.resolve("whole")));
        assertEquals(0, whole.code(), whole.err());
        JsonNode reference = Json.MAPPER.readTree(whole.out());
        assertEquals(3, reference.get("rows").size());
        assertEquals(reference.get("rows"), doc.get("rows"), "the rows of a sweep never interrupted");
        assertEquals(reference.get("best"), doc.get("best"));
    }

    /** The sweep into {@code dir} in a JVM of its own, its output in {@code tmp/log.txt}. */
    private Process start(Path dir) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-Dai.djl.offline=true", "--enable-native-access=ALL-UNNAMED",
                "-XX:ActiveProcessorCount=1", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args(dir)));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(tmp.resolve("log.txt").toFile())
                .start();
    }

    private static String[] args(Path dir) {
        List<String> args = new ArrayList<>(SWEEP);
        args.addAll(List.of("--out", dir.toString()));
        return args.toArray(String[]::new);
    }

    /**
     * Once a unit has finished, the folder of a unit that is writing its checkpoint (a hidden
     * partial directory in it, no result yet); null if {@code p} ends or three minutes pass first.
     */
    private static Path awaitUnitMidWrite(Process p, Path units) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 180_000_000_000L;
        while (p.isAlive() && System.nanoTime() < deadline) {
            if (Files.isDirectory(units)) {
                List<Path> dirs;
                try (Stream<Path> s = Files.list(units)) {
                    dirs = s.filter(Files::isDirectory).toList();
                }
                boolean oneDone = dirs.stream().anyMatch(d -> Files.exists(d.resolve("result.json")));
                for (Path d : dirs) {
                    if (oneDone && !Files.exists(d.resolve("result.json")) && hasHidden(d)) {
                        return d;
                    }
                }
            }
            Thread.sleep(20);
        }
        return null;
    }

    private static boolean hasHidden(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(f -> f.getFileName().toString().startsWith("."));
        } catch (IOException e) {
            // the folder changed as it was listed; look again on the next round
            return false;
        }
    }

    /** The units in {@code units} that finished: variants with a result (none failed), shared rankings and baselines. */
    private static int finished(Path units) throws IOException {
        int n = 0;
        try (Stream<Path> s = Files.list(units)) {
            for (Path d : s.filter(Files::isDirectory).toList()) {
                Path result = d.resolve("result.json");
                if (Files.exists(result)) {
                    JsonNode r = Json.MAPPER.readTree(result.toFile());
                    assertFalse(r.has("error"), "no unit failed: " + r);
                    n++;
                }
                if (Files.exists(d.resolve("findings.json")) || Files.exists(d.resolve("baseline.json"))) {
                    n++;
                }
            }
        }
        return n;
    }
}
