package org.neurotome.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.Sha256;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedMap;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Reads the JSONL data set of a task strictly: one object per line,
 * {@code {"prompt": "...", "target": "...", "labels": {...}}}, UTF-8, no other field, no
 * duplicate key, label values strings or integers, and every label the task's kind needs
 * (see {@link LabelSchema}) present with the right type and an allowed value. Paired kinds must
 * hold exactly one woman and one man case per {@code pair} label. Every error is BAD_INPUT and
 * starts with {@code file:line:} and names the bad field. Blank lines are skipped.
 */
public final class DatasetReader {
    private static final Set<String> FIELDS = Set.of("prompt", "target", "labels");
    private static final ObjectReader STRICT = Json.MAPPER.reader()
            .with(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private DatasetReader() {
    }

    /** Reads, hashes and validates the task's data set, then applies its filters and limit. */
    public static TaskDataset read(TaskSpec spec) {
        Path file = spec.dataset();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw NeurotomeException.badInput("cannot read data set " + file + " of task '" + spec.id() + "': " + e);
        }
        String[] lines = decode(bytes, file).split("\n", -1);
        List<EvalCase> cases = new ArrayList<>();
        List<Integer> lineNumbers = new ArrayList<>();
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (line.isBlank()) {
                continue;
            }
            String where = file + ":" + (i + 1);
            EvalCase c = parseLine(line, where);
            checkLabels(c, spec.kind(), where);
            cases.add(c);
            lineNumbers.add(i + 1);
        }
        if (cases.isEmpty()) {
            throw NeurotomeException.badInput(file + ": data set of task '" + spec.id() + "' holds no case");
        }
        TaskDataset all = new TaskDataset(file, Sha256.hex(bytes), cases, lineNumbers);
        TaskDataset kept = filter(all, spec);
        if (LabelSchema.of(spec.kind()).paired()) {
            checkPairs(kept, spec.kind());
        }
        return spec.limit().isPresent() ? limit(kept, spec) : kept;
    }

    /**
     * Parses one JSONL line into a case; {@code where} ({@code file:line}) starts every error
     * message.
     */
    public static EvalCase parseLine(String line, String where) {
        JsonNode node;
        try {
            node = STRICT.readTree(line);
        } catch (JsonProcessingException e) {
            throw NeurotomeException.badInput(where + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            throw NeurotomeException.badInput(where + ": expected a JSON object {\"prompt\", \"target\", \"labels\"}");
        }
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            if (!FIELDS.contains(field.getKey())) {
                throw NeurotomeException.badInput(where + ": unknown field '" + field.getKey() + "'; allowed: prompt, target, labels");
            }
        }
        String prompt = text(node, "prompt", where);
        String target = text(node, "target", where);
        JsonNode labelsNode = node.get("labels");
        if (labelsNode == null || !labelsNode.isObject()) {
            throw NeurotomeException.badInput(where + ": field 'labels' must be an object, was "
                    + (labelsNode == null ? "missing" : labelsNode.toString()));
        }
        EvalCase.Labels labels = new EvalCase.Labels();
        for (Map.Entry<String, JsonNode> e : labelsNode.properties()) {
            JsonNode v = e.getValue();
            if (v.isTextual()) {
                labels.put(e.getKey(), v.textValue());
            } else if (v.isInt()) {
                labels.put(e.getKey(), v.intValue());
            } else {
                throw NeurotomeException.badInput(where + ": label '" + e.getKey() + "' is " + v
                        + "; allowed: a string or a 32-bit integer");
            }
        }
        try {
            return new EvalCase(prompt, target, labels.build());
        } catch (IllegalArgumentException e) {
            throw NeurotomeException.badInput(where + ": " + e.getMessage());
        }
    }

    /** The label's value as filters and metric names write it: a string as is, an integer in decimal. */
    static String labelText(EvalCase c, String label) {
        Object v = c.labels().get(label);
        return v == null ? null : v.toString();
    }

    private static String decode(byte[] bytes, Path file) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw NeurotomeException.badInput(file + ": not UTF-8 text (" + e.getMessage() + ")");
        }
    }

    private static String text(JsonNode node, String field, String where) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw NeurotomeException.badInput(where + ": field '" + field + "' must be a string, was "
                    + (v == null ? "missing" : v.toString()));
        }
        return v.textValue();
    }

    private static void checkLabels(EvalCase c, TaskKind kind, String where) {
        LabelSchema schema = LabelSchema.of(kind);
        Object kindLabel = c.labels().get("kind");
        if (kindLabel != null && !schema.kindLabel().equals(kindLabel)) {
            throw NeurotomeException.badInput(where + ": label 'kind' is '" + kindLabel + "' but the task is of kind "
                    + kind.yamlName() + ", whose cases have kind '" + schema.kindLabel() + "'");
        }
        for (LabelSchema.Rule rule : schema.required()) {
            Object v = c.labels().get(rule.name());
            if (v == null) {
                throw NeurotomeException.badInput(where + ": missing label '" + rule.name() + "'; task kind "
                        + kind.yamlName() + " needs labels " + schema.requiredNames());
            }
            if (rule.integer() && !(v instanceof Integer)) {
                throw NeurotomeException.badInput(where + ": label '" + rule.name() + "' must be an integer, was \"" + v + "\"");
            }
            if (!rule.integer() && !(v instanceof String)) {
                throw NeurotomeException.badInput(where + ": label '" + rule.name() + "' must be a string, was " + v);
            }
            if (!rule.allowed().isEmpty() && !rule.allowed().contains(v)) {
                throw NeurotomeException.badInput(where + ": label '" + rule.name() + "' is '" + v + "'; allowed: "
                        + String.join(", ", rule.allowed()));
            }
        }
    }

    private static TaskDataset filter(TaskDataset all, TaskSpec spec) {
        for (Map.Entry<String, List<String>> f : spec.filters().entrySet()) {
            Set<String> present = new LinkedHashSet<>();
            for (EvalCase c : all.cases()) {
                String v = labelText(c, f.getKey());
                if (v != null) {
                    present.add(v);
                }
            }
            if (present.isEmpty()) {
                throw NeurotomeException.badInput(all.file() + ": task '" + spec.id() + "' filters on label '"
                        + f.getKey() + "', which no case carries");
            }
            for (String wanted : f.getValue()) {
                if (!present.contains(wanted)) {
                    throw NeurotomeException.badInput(all.file() + ": task '" + spec.id() + "' filters on "
                            + f.getKey() + "=" + wanted + ", which no case has; values present: " + String.join(", ", present));
                }
            }
        }
        List<EvalCase> cases = new ArrayList<>();
        List<Integer> lines = new ArrayList<>();
        for (int i = 0; i < all.cases().size(); i++) {
            EvalCase c = all.cases().get(i);
            boolean keep = spec.filters().entrySet().stream()
                    .allMatch(f -> f.getValue().contains(labelText(c, f.getKey())));
            if (keep) {
                cases.add(c);
                lines.add(all.lines().get(i));
            }
        }
        if (cases.isEmpty()) {
            throw NeurotomeException.badInput(all.file() + ": the filters of task '" + spec.id() + "' "
                    + spec.filters() + " together match no case");
        }
        return new TaskDataset(all.file(), all.sha256(), cases, lines);
    }

    /** Index lists of the cases of each pair, in order of first appearance. */
    static SequencedMap<String, List<Integer>> pairs(List<EvalCase> cases) {
        SequencedMap<String, List<Integer>> pairs = new LinkedHashMap<>();
        for (int i = 0; i < cases.size(); i++) {
            pairs.computeIfAbsent(cases.get(i).label("pair"), k -> new ArrayList<>()).add(i);
        }
        return pairs;
    }

    private static void checkPairs(TaskDataset d, TaskKind kind) {
        for (Map.Entry<String, List<Integer>> p : pairs(d.cases()).entrySet()) {
            List<Integer> idx = p.getValue();
            String lines = idx.stream().map(i -> d.lines().get(i).toString()).collect(Collectors.joining(", "));
            String where = d.where(idx.getLast());
            if (idx.size() != 2) {
                throw NeurotomeException.badInput(where + ": pair '" + p.getKey() + "' has " + idx.size()
                        + " case(s) (lines " + lines + "); a pair is one case with gender woman and one with gender man"
                        + " (filters on a paired task must keep both)");
            }
            EvalCase a = d.cases().get(idx.get(0));
            EvalCase b = d.cases().get(idx.get(1));
            if (a.label("gender").equals(b.label("gender"))) {
                throw NeurotomeException.badInput(where + ": pair '" + p.getKey() + "' (lines " + lines
                        + ") has gender " + a.label("gender") + " twice; a pair is one woman case and one man case");
            }
            requireSame(a, b, "profession", p.getKey(), where, lines);
            requireSame(a, b, "bias", p.getKey(), where, lines);
            if (kind == TaskKind.GENDER) {
                requireSame(a, b, "template", p.getKey(), where, lines);
                if (!a.target().equals(b.target())) {
                    throw NeurotomeException.badInput(where + ": pair '" + p.getKey() + "' (lines " + lines
                            + ") has targets '" + a.target() + "' and '" + b.target()
                            + "'; the bias gap compares one profession under two genders");
                }
            } else if (!a.prompt().equals(b.prompt())) {
                throw NeurotomeException.badInput(where + ": pair '" + p.getKey() + "' (lines " + lines
                        + ") has prompts '" + a.prompt() + "' and '" + b.prompt()
                        + "'; the pronoun bias compares two pronouns after one prompt");
            }
        }
    }

    private static void requireSame(EvalCase a, EvalCase b, String label, String pair, String where, String lines) {
        if (!Objects.equals(a.labels().get(label), b.labels().get(label))) {
            throw NeurotomeException.badInput(where + ": pair '" + pair + "' (lines " + lines + ") has " + label + " '"
                    + a.labels().get(label) + "' and '" + b.labels().get(label) + "'; both cases of a pair must agree");
        }
    }

    private static TaskDataset limit(TaskDataset d, TaskSpec spec) {
        int n = spec.limit().getAsInt();
        List<Integer> keep = new ArrayList<>();
        if (LabelSchema.of(spec.kind()).paired()) {
            for (List<Integer> pair : pairs(d.cases()).values()) {
                if (keep.size() + pair.size() > n) {
                    break;
                }
                keep.addAll(pair);
            }
            if (keep.isEmpty()) {
                throw NeurotomeException.badInput("task '" + spec.id() + "': limit " + n
                        + " keeps no whole pair; a paired task needs a limit of at least 2");
            }
            keep.sort(null);
        } else {
            for (int i = 0; i < Math.min(n, d.cases().size()); i++) {
                keep.add(i);
            }
        }
        return new TaskDataset(d.file(), d.sha256(),
                keep.stream().map(d.cases()::get).toList(),
                keep.stream().map(d.lines()::get).toList());
    }
}
