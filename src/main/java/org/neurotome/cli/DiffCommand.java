package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.surgery.WeightDiff;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code neurotome diff A B}: which tensors differ, and which heads and neurons were zeroed or scaled. */
@Command(name = "diff", mixinStandardHelpOptions = true,
        description = "Compare two checkpoints: changed tensors, zeroed or scaled heads and neurons.")
public final class DiffCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "A", description = "The original checkpoint.")
    Path a;

    @Parameters(index = "1", paramLabel = "B", description = "The edited checkpoint.")
    Path b;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        try (Checkpoint ca = Checkpoint.open(a); Checkpoint cb = Checkpoint.open(b)) {
            ObjectNode d = WeightDiff.diff(ca, cb);
            if (json) {
                System.out.println(Json.pretty().writeValueAsString(d));
                return 0;
            }
            System.out.println("tensors that differ: " + d.get("tensors").size());
            for (JsonNode t : d.get("tensors")) {
                System.out.printf("  %-60s %s%n", t.get("name").asText(), t.get("status").asText());
            }
            for (String kind : new String[] {"heads", "neurons"}) {
                if (d.has(kind)) {
                    System.out.println(kind + " changed: " + d.get(kind).size());
                    for (JsonNode e : d.get(kind)) {
                        String id = e.get(kind.equals("heads") ? "head" : "neuron").asText();
                        System.out.printf("  %-10s %s%s%n", id, e.get("change").asText(),
                                e.has("factor") ? " ×" + e.get("factor").asText() : "");
                    }
                }
            }
            if (d.has("note")) {
                System.out.println(d.get("note").asText());
            }
            if (d.has("precision")) {
                System.out.println("note: " + d.get("precision").asText());
            }
        }
        return 0;
    }
}
