package org.neurotome.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.AtomicFile;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The JSONL form of evaluation cases: one object per line,
 * {@code {"prompt": "...", "target": "...", "labels": {...}}}, UTF-8, each line ending in
 * {@code \n}; label values are strings or integers. Reading rejects anything else with the
 * file and line in the message.
 */
public final class EvalCaseFile {
    private static final ObjectMapper JSON = new ObjectMapper();

    private EvalCaseFile() {
    }

    /** Writes the cases to {@code file} through a sibling temporary file, so a failure leaves no partial file. */
    public static void write(Path file, List<EvalCase> cases) {
        StringBuilder out = new StringBuilder();
        for (EvalCase c : cases) {
            out.append(toLine(c)).append('\n');
        }
        AtomicFile.write(file, out.toString());
    }

    /** Reads every case of {@code file}; blank lines are skipped. */
    public static List<EvalCase> read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw NeurotomeException.badInput("cannot read data set " + file + ": " + NeurotomeException.reason(e));
        }
        List<EvalCase> cases = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).isBlank()) {
                cases.add(DatasetReader.parseLine(lines.get(i), file + ":" + (i + 1)));
            }
        }
        return cases;
    }

    private static String toLine(EvalCase c) {
        ObjectNode node = JSON.createObjectNode();
        node.put("prompt", c.prompt());
        node.put("target", c.target());
        ObjectNode labels = node.putObject("labels");
        for (Map.Entry<String, Object> e : c.labels().entrySet()) {
            switch (e.getValue()) {
                case Integer i -> labels.put(e.getKey(), i);
                case String s -> labels.put(e.getKey(), s);
                default -> throw new IllegalStateException("label value " + e.getValue());
            }
        }
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the case of '" + c.prompt() + "'", e);
        }
    }
}
