package org.neurotome.spark;

import com.fasterxml.jackson.databind.JsonNode;
import org.neurotome.Json;
import org.neurotome.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** One {@code neurotome sweep} run in this JVM, as users run it: exit code, stdout, stderr. */
record SweepRun(int code, String out, String err) {
    static final String RECIPE = "recipes/gender-debias.yaml";

    /** The gender sweep of two variants into {@code dir} ({@code --json}), with {@code engine}'s options. */
    static SweepRun gender(String dir, String... engine) {
        return of(RECIPE, dir, "locate.0.top=12,18", engine);
    }

    /** The sweep of {@code recipe} over {@code grid} into {@code dir} ({@code --json}), with {@code engine}'s options. */
    static SweepRun of(String recipe, String dir, String grid, String... engine) {
        List<String> args = new ArrayList<>(List.of("sweep", recipe, "--out", dir, "--json", "--grid", grid,
                "--threads", "1"));
        args.addAll(List.of(engine));
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.execute(args.toArray(String[]::new));
            return new SweepRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    JsonNode rows() throws IOException {
        return Json.MAPPER.readTree(out).get("rows");
    }

    /** {@code units}: planned, run, reused, failed. */
    JsonNode units() throws IOException {
        return Json.MAPPER.readTree(out).get("units");
    }
}
