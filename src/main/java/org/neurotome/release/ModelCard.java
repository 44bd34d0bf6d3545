package org.neurotome.release;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.neurotome.AtomicFile;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.eval.GateResult;
import org.neurotome.eval.Markup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The model card ({@code README.md}) of an edited checkpoint, in the Hugging Face layout
 * ("Model Cards" in the Hub documentation): YAML front matter ({@code base_model},
 * {@code license} when the base model has one, {@code library_name}, {@code pipeline_tag},
 * {@code tags}), then the recipe's description, every edit in words with the step that located
 * its components, and with an eval stage the gate table and the headline metrics against the
 * base model. It is rendered from {@code manifest.json} and {@code eval/report.json} alone, so
 * it holds no paths, times or anything else that differs between two runs of one recipe.
 * {@code base_model_relation} is left out: none of the Hub's relations (adapter, merge,
 * quantized, finetune) describes an edit of the weights in place.
 */
public final class ModelCard {
    public static final String FILE = "README.md";
    /** Where the eval stage's report sits in an output directory. */
    public static final String REPORT = "eval/report.json";

    private static final ObjectMapper FRONT_MATTER = new ObjectMapper(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
            .build());

    private ModelCard() {
    }

    /** Renders the card of output directory {@code dir} and writes it as {@code dir/README.md}. */
    public static Path write(Path dir) {
        JsonNode manifest = read(dir.resolve("manifest.json"));
        JsonNode report = Files.isRegularFile(dir.resolve(REPORT)) ? read(dir.resolve(REPORT)) : null;
        Path card = dir.resolve(FILE);
        AtomicFile.write(card, render(manifest, read(dir.resolve("config.json")), report));
        return card;
    }

    /** The card for {@code manifest} and, when the recipe had an eval stage, its {@code report}. */
    public static String render(JsonNode manifest, JsonNode report) {
        return render(manifest, null, report);
    }

    /**
     * The card for {@code manifest}, the output's {@code config} (null: not consulted) and,
     * when the recipe had an eval stage, its {@code report}.
     */
    public static String render(JsonNode manifest, JsonNode config, JsonNode report) {
        BaseModel base = BaseModel.fromJson(manifest.get(BaseModel.SECTION));
        String baseName = base == null ? "an unnamed model" : base.name();
        JsonNode steps = manifest.path("steps");
        StringBuilder b = new StringBuilder();
        b.append("---\n").append(frontMatter(base, manifest)).append("---\n\n");

        String recipe = fileName(manifest.path("recipe").path("path").asText("recipe.yaml"));
        b.append("# ").append(baseName).append(", edited with neurotome (").append(stem(recipe)).append(")\n\n");
        String description = manifest.path("recipe").path("description").asText("");
        if (!description.isBlank()) {
            b.append(description.strip()).append("\n\n");
        }
        boolean located = false;
        for (JsonNode step : steps) {
            located |= step.path("stage").asText().equals("locate");
        }
        b.append("This is **").append(baseName).append("** with its weights edited by neurotome ")
                .append(manifest.path("tool").path("version").asText("")).append(" following the recipe `")
                .append(recipe).append(located ? "`: the components that carry a behaviour were located with the"
                        + " analyses of Yu & Ananiadou, \"Interpreting Arithmetic Mechanism in Large Language Models through"
                        + " Comparative Neuron Analysis\" (EMNLP 2024), and edited as listed below.\n\n"
                        : "`, as listed below.\n\n");

        b.append("## Edits\n\n| # | edit | components | located by |\n| --- | --- | --- | --- |\n");
        List<JsonNode> editSteps = new ArrayList<>();
        steps.forEach(s -> {
            if (s.path("stage").asText().equals("edit")) {
                editSteps.add(s);
            }
        });
        int i = 0;
        for (JsonNode edit : manifest.path("edits")) {
            JsonNode step = i < editSteps.size() ? editSteps.get(i) : null;
            i++;
            int tensors = edit.path("touched").size();
            // the edits past the recipe's own are the recover stage's merge of the LoRA it trained
            String from = step == null && manifest.has("recover") ? recovery(manifest.path("recover"), !editSteps.isEmpty())
                    : locatedBy(step, steps);
            b.append("| ").append(i).append(" | ").append(cell(edit.path("op").asText())).append(" | ")
                    .append(cell(components(edit) + (tensors > 0 ? "; " + count(tensors, "tensor") + " touched" : "")))
                    .append(" | ").append(cell(from)).append(" |\n");
        }
        b.append("\nThe tensors, axes and indices of every edit are listed in `manifest.json`; what each analysis")
                .append(" found is in `findings.json`.\n\n");

        if (report != null) {
            evaluation(b, report, steps);
        }
        loading(b, config);

        b.append("## Provenance\n\n| | |\n| --- | --- |\n");
        b.append("| base model | ").append(cell(baseName)).append(", fingerprint `")
                .append(manifest.path("input").path("sha256").asText("")).append("` (SHA-256 over its config, tokenizer")
                .append(" and weight files) |\n");
        b.append("| recipe | `").append(cell(recipe)).append("`, SHA-256 `").append(manifest.path("recipe").path("sha256").asText(""))
                .append("`, copied as `recipe.yaml` |\n");
        if (base != null && base.license() != null) {
            b.append("| license | ").append(cell(base.license())).append(", the base model's |\n");
        }
        b.append("| tool | neurotome ").append(manifest.path("tool").path("version").asText("")).append(" |\n\n");
        b.append("Every file's SHA-256 is in `manifest.json`; `neurotome verify` checks this folder, or an archive of it,")
                .append(" against it.\n");
        return b.toString();
    }

    /**
     * Families whose transformers classes read {@code head_dim} from config.json only from the
     * version given on; earlier ones take hidden_size / num_attention_heads, which a checkpoint
     * whose heads were compacted no longer satisfies.
     */
    private static final Map<String, String> HEAD_DIM_SINCE = Map.of("llama", "4.48", "mistral", "4.48");

    /** A "Loading" section when the output needs a newer transformers than its family's first. */
    private static void loading(StringBuilder b, JsonNode config) {
        if (config == null || !HEAD_DIM_SINCE.containsKey(config.path("model_type").asText())
                || !config.path("head_dim").canConvertToInt()) {
            return;
        }
        int heads = config.path("num_attention_heads").asInt();
        int headDim = config.path("head_dim").asInt();
        int hidden = config.path("hidden_size").asInt();
        if ((long) heads * headDim == hidden) {
            return;
        }
        b.append("## Loading\n\nThis checkpoint's attention heads were compacted: ").append(heads).append(" heads of ")
                .append(headDim).append(" (`head_dim`) no longer span the hidden size ").append(hidden)
                .append(". Load it with transformers ").append(HEAD_DIM_SINCE.get(config.path("model_type").asText()))
                .append(" or later, whose ").append(config.path("model_type").asText()).append(" classes read `head_dim`")
                .append(" from `config.json`; earlier versions derive it as hidden_size / num_attention_heads and fail")
                .append(" with shape mismatches.\n\n");
    }

    private static String frontMatter(BaseModel base, JsonNode manifest) {
        ObjectNode fm = Json.MAPPER.createObjectNode();
        if (base != null) {
            fm.put("base_model", base.name());
            if (base.license() != null) {
                fm.put("license", base.license());
            }
            if (base.licenseName() != null) {
                fm.put("license_name", base.licenseName());
            }
            if (base.licenseLink() != null) {
                fm.put("license_link", base.licenseLink());
            }
        }
        fm.put("library_name", "transformers");
        fm.put("pipeline_tag", "text-generation");
        Set<String> tags = new LinkedHashSet<>(List.of("neurotome", "model-surgery"));
        manifest.path("steps").forEach(s -> {
            if (s.path("method").asText().equals("cna")) {
                tags.add("comparative-neuron-analysis");
            }
        });
        manifest.path("edits").forEach(e -> tags.add(e.path("op").asText()));
        tags.forEach(fm.putArray("tags")::add);
        try {
            return FRONT_MATTER.writeValueAsString(fm);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What an edit did, in words: which heads, or how many neurons in which layers. */
    static String components(JsonNode edit) {
        String op = edit.path("op").asText();
        return switch (op) {
            case "zero-heads" -> count(edit.path("heads").size(), "attention head") + " zeroed: " + list(edit.path("heads"));
            case "keep-heads" -> count(edit.path("heads").size(), "attention head") + " kept (" + list(edit.path("heads"))
                    + "), every other head zeroed in layers " + edit.path("layers").asText("all");
            case "zero-neurons" -> count(edit.path("neurons").size(), "FFN neuron") + " zeroed: " + perLayer(edit.path("neurons"));
            case "scale-neurons" -> count(edit.path("neurons").size(), "FFN neuron") + " scaled by "
                    + edit.path("factor").asDouble() + ": " + perLayer(edit.path("neurons"));
            case "keep-neurons" -> count(edit.path("neurons").size(), "FFN neuron") + " kept (" + perLayer(edit.path("neurons"))
                    + "), every other neuron zeroed in layers " + edit.path("layers").asText("all");
            case "compact" -> "zeroed " + (edit.path("heads").asBoolean() && edit.path("neurons").asBoolean() ? "heads and neurons"
                    : edit.path("heads").asBoolean() ? "heads" : "neurons") + " removed from the weights, config.json rewritten"
                    + (edit.path("pad").asBoolean() ? "; FFN layers padded to one width" : "");
            case "merge-lora" -> "LoRA adapter `" + edit.path("adapter").asText() + "` merged at scale "
                    + edit.path("scale").asDouble() + ": r " + edit.path("r").asInt() + ", alpha "
                    + edit.path("lora_alpha").asDouble() + ", " + count(edit.path("modules").size(), "module");
            default -> op;
        };
    }

    /** What the recover stage trained, from its manifest section. */
    private static String recovery(JsonNode recover, boolean edited) {
        JsonNode data = recover.path("data");
        String on = data.path("kind").asText().equals("corpus") ? "the " + data.path("mix").asText() + " corpus"
                : "`" + fileName(data.path("path").asText()) + "`";
        return String.format(java.util.Locale.ROOT, "the `recover` stage: trained on the %s, %d steps on %s, "
                        + "loss %.4f → %.4f; the adapter is in `%s/`", edited ? "edited model" : "input model",
                recover.path("steps").asInt(), on,
                recover.path("first_loss").asDouble(), recover.path("final_loss").asDouble(), recover.path("adapter").asText());
    }

    /** Where an edit's components came from, following a select back to its analysis. */
    private static String locatedBy(JsonNode edit, JsonNode steps) {
        if (edit == null || edit.path("uses").isNull() || edit.path("uses").isMissingNode()) {
            return edit != null && edit.path("op").asText().equals("compact") ? "—" : "listed in the recipe";
        }
        JsonNode step = step(steps, edit.path("uses").asText());
        if (step == null) {
            return "`" + edit.path("uses").asText() + "`";
        }
        if (step.path("stage").asText().equals("select")) {
            JsonNode from = step(steps, step.path("from").asText());
            return "`" + step.path("id").asText() + "`: " + (step.has("chose") ? step.path("chose").asInt() + " " : "")
                    + step.path("kind").asText() + " selected from " + (from == null ? "`" + step.path("from").asText() + "`"
                    : analysis(from));
        }
        return analysis(step);
    }

    private static String analysis(JsonNode step) {
        String s = "`" + step.path("id").asText() + "`: " + step.path("method").asText();
        if (step.has("from")) {
            return s + " `" + step.path("from").asText() + "`";
        }
        s += " on " + step.path("input").asText();
        if (step.has("against")) {
            s += " against " + step.path("against").asText();
        }
        int top = step.path("top").asInt(0);
        return s + (top > 0 ? ", top " + top : "");
    }

    private static JsonNode step(JsonNode steps, String id) {
        for (JsonNode s : steps) {
            if (id.equals(s.path("id").asText(null))) {
                return s;
            }
        }
        return null;
    }

    /** The gate table and the headline metrics (those without a {@code label=value} slice) against the baseline. */
    private static void evaluation(StringBuilder b, JsonNode report, JsonNode steps) {
        String suite = null;
        for (JsonNode s : steps) {
            if (s.path("stage").asText().equals("eval")) {
                suite = s.path("suite").asText();
            }
        }
        JsonNode gates = report.path("gates");
        int passed = 0;
        for (JsonNode g : gates) {
            passed += g.path("passed").asBoolean() ? 1 : 0;
        }
        boolean verdict = report.path("passed").asBoolean();
        b.append("## Evaluation\n\n").append(suite == null ? "The eval suite" : "The suite `" + suite + "`")
                .append(" ran on this model with the base model as baseline: ");
        if (gates.isEmpty()) {
            b.append("it sets no gates, so nothing was judged.");
        } else {
            b.append("**").append(verdict ? "PASSED" : "FAILED").append("**, ").append(passed).append(" of ")
                    .append(gates.size()).append(" gates").append(verdict ? "." : "; this model must not ship.");
        }
        b.append(" The full report is `eval/report.html`.\n\n");
        if (!gates.isEmpty()) {
            b.append("| gate | value | result |\n| --- | ---: | :---: |\n");
            for (JsonNode g : gates) {
                GateResult r = new GateResult(g.path("name").asText(), g.path("metric").asText(), g.path("relation").asText(),
                        g.path("bound").asDouble(), g.path("value").isNumber() ? g.path("value").asDouble() : null,
                        g.path("passed").asBoolean(), g.path("reason").asText(null));
                b.append("| `").append(cell(r.name())).append("` | ").append(Markup.gateValue(r)).append(" | ")
                        .append(r.passed() ? "PASS" : "FAIL").append(" |\n");
            }
            b.append('\n');
        }
        Map<String, Double> metrics = numbers(report.path("metrics"));
        Map<String, Double> baseline = numbers(report.path("baseline_metrics"));
        Map<String, Double> comparison = numbers(report.path("comparison"));
        b.append("| metric | this model | base model | change | relative |\n| --- | ---: | ---: | ---: | ---: |\n");
        for (Map.Entry<String, Double> m : metrics.entrySet()) {
            String name = m.getKey();
            if (name.contains("=")) {
                continue;
            }
            b.append("| ").append(cell(name)).append(" | ").append(Markup.metric(name, m.getValue())).append(" | ")
                    .append(Markup.metric(name, baseline.get(name))).append(" | ")
                    .append(Markup.delta(name, comparison.get(name + ".delta"))).append(" | ")
                    .append(Markup.percent(comparison.get(name + ".rel_change"))).append(" |\n");
        }
        b.append('\n');
    }

    private static Map<String, Double> numbers(JsonNode object) {
        Map<String, Double> m = new TreeMap<>();
        object.properties().forEach(e -> {
            if (e.getValue().isNumber()) {
                m.put(e.getKey(), e.getValue().asDouble());
            }
        });
        return m;
    }

    /** Neurons {@code L.N} as counts per layer: {@code layer 1 (1), layer 3 (11)}. */
    private static String perLayer(JsonNode neurons) {
        Map<Integer, Integer> counts = new TreeMap<>();
        for (JsonNode n : neurons) {
            String s = n.asText();
            int dot = s.indexOf('.');
            if (dot > 0) {
                counts.merge(Integer.parseInt(s.substring(0, dot)), 1, Integer::sum);
            }
        }
        List<String> parts = new ArrayList<>();
        counts.forEach((layer, n) -> parts.add("layer " + layer + " (" + n + ")"));
        return String.join(", ", parts);
    }

    private static String list(JsonNode items) {
        List<String> parts = new ArrayList<>();
        items.forEach(x -> parts.add(x.asText()));
        return String.join(", ", parts);
    }

    private static String count(int n, String what) {
        return n + " " + what + (n == 1 ? "" : "s");
    }

    private static String fileName(String path) {
        int slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
        return path.substring(slash + 1);
    }

    private static String stem(String file) {
        int dot = file.lastIndexOf('.');
        return dot > 0 ? file.substring(0, dot) : file;
    }

    /** Text safe inside a Markdown table cell. */
    private static String cell(String s) {
        return s.replace("|", "\\|").replace("\n", " ");
    }

    private static JsonNode read(Path file) {
        try {
            return Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw NeurotomeException.badCheckpoint(file + ": cannot read: " + e.getMessage());
        }
    }
}
