package org.neurotome.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import org.neurotome.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds evaluation cases and JSONL lines for tests: labels as alternating keys and values. */
final class Cases {
    private Cases() {
    }

    static EvalCase of(String prompt, String target, Object... labels) {
        EvalCase.Labels l = new EvalCase.Labels();
        for (int i = 0; i < labels.length; i += 2) {
            if (labels[i + 1] instanceof Integer n) {
                l.put((String) labels[i], n);
            } else {
                l.put((String) labels[i], (String) labels[i + 1]);
            }
        }
        return new EvalCase(prompt, target, l.build());
    }

    static String line(EvalCase c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", c.prompt());
        m.put("target", c.target());
        m.put("labels", c.labels());
        try {
            return Json.MAPPER.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path write(Path file, List<EvalCase> cases) {
        StringBuilder out = new StringBuilder();
        cases.forEach(c -> out.append(line(c)).append('\n'));
        return writeText(file, out.toString());
    }

    static Path writeText(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
