package org.neurotome.release;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.neurotome.Json;
import org.neurotome.archive.ArchiveFormat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The model an output was edited from, as its model card names it: the Hugging Face id for
 * {@code base_model}, and the license it was released under, passed on to the edited model
 * (Hugging Face model cards, "Model card metadata": {@code base_model}, {@code license},
 * {@code license_name}, {@code license_link}). Recorded in {@code manifest.json} so the card
 * can be rendered from the manifest alone.
 *
 * @param name        the id: the recipe's {@code model.name}; else the repository of a Hugging
 *                    Face cache snapshot ({@code models--org--name/snapshots/rev}); else
 *                    {@code config.json}'s {@code _name_or_path} when it is a hub id; else the
 *                    checkpoint's folder or archive name
 * @param license     the base model card's {@code license} (or config.json's), null when neither says
 * @param licenseName with {@code license: other}, the license's name; else null
 * @param licenseLink with {@code license: other}, where the license text is; else null
 */
public record BaseModel(String name, String license, String licenseName, String licenseLink) {
    /** The manifest section holding it. */
    public static final String SECTION = "base_model";

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Pattern HF_CACHE = Pattern.compile(".*/models--([^/]+?)--([^/]+)/snapshots/[^/]+/?");
    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");

    /**
     * The base model of a checkpoint.
     *
     * @param given the checkpoint as the recipe names it (a folder or an archive)
     * @param files the folder its files are read from (the unpacked archive for an archive)
     * @param name  the recipe's {@code model.name}, or null
     */
    public static BaseModel of(Path given, Path files, String name) {
        JsonNode card = frontMatter(files.resolve(ModelCard.FILE));
        JsonNode config = readJson(files.resolve("config.json"));
        String license = text(card, "license");
        if (license == null) {
            license = text(config, "license");
        }
        boolean other = "other".equals(license);
        return new BaseModel(name != null ? name : derivedName(given, config), license,
                other ? text(card, "license_name") : null, other ? text(card, "license_link") : null);
    }

    private static String derivedName(Path given, JsonNode config) {
        String hub = hubId(given, config);
        if (hub != null) {
            return hub;
        }
        String file = given.toAbsolutePath().normalize().getFileName().toString();
        return ArchiveFormat.of(given).map(f -> file.substring(0, file.length() - f.extension().length())).orElse(file);
    }

    /**
     * The Hugging Face id of a checkpoint, or null when it has none: the repository of a hub
     * cache snapshot ({@code models--org--name/snapshots/rev}), else {@code config.json}'s
     * {@code _name_or_path} when that is a hub id rather than a local path.
     *
     * @param given the checkpoint as named on the command line or in the recipe
     * @param files the folder its files are read from
     */
    public static String hubId(Path given, Path files) {
        return hubId(given, readJson(files.resolve("config.json")));
    }

    private static String hubId(Path given, JsonNode config) {
        Matcher m = HF_CACHE.matcher(given.toAbsolutePath().normalize().toString().replace('\\', '/'));
        if (m.matches()) {
            return m.group(1) + "/" + m.group(2);
        }
        String declared = text(config, "_name_or_path");
        return declared != null && HUB_ID.matcher(declared).matches() && !declared.contains("--")
                && !declared.contains("..") ? declared : null;
    }

    /** The YAML front matter of a model card ({@code ---} lines around it), or null when there is none or it is malformed. */
    static JsonNode frontMatter(Path card) {
        if (!Files.isRegularFile(card)) {
            return null;
        }
        try {
            String text = Files.readString(card).replace("\r\n", "\n");
            if (!text.startsWith("---\n")) {
                return null;
            }
            int end = text.indexOf("\n---", 3);
            if (end < 0) {
                return null;
            }
            JsonNode node = YAML.readTree(text.substring(4, end + 1));
            return node != null && node.isObject() ? node : null;
        } catch (IOException | RuntimeException e) {
            return null; // a card we cannot read names no license; the edit itself does not depend on it
        }
    }

    private static JsonNode readJson(Path file) {
        try {
            return Files.isRegularFile(file) ? Json.MAPPER.readTree(file.toFile()) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static String text(JsonNode node, String key) {
        if (node == null || !node.path(key).isTextual() || node.path(key).asText().isBlank()) {
            return null;
        }
        return node.path(key).asText().strip();
    }

    /** The manifest section. */
    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode().put("name", name);
        putIf(o, "license", license);
        putIf(o, "license_name", licenseName);
        putIf(o, "license_link", licenseLink);
        return o;
    }

    /** Reads the manifest section back; null when the manifest has none. */
    public static BaseModel fromJson(JsonNode section) {
        if (section == null || text(section, "name") == null) {
            return null;
        }
        return new BaseModel(text(section, "name"), text(section, "license"), text(section, "license_name"),
                text(section, "license_link"));
    }

    private static void putIf(ObjectNode o, String key, String value) {
        if (value != null) {
            o.put(key, value);
        }
    }
}
