package org.neurotome.recipe;

import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.eval.LabelFilter;
import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What an analysis runs on — exactly one of: prompts written in the recipe, raw token-id
 * sequences, or the cases of a JSONL dataset (each carrying its own target).
 */
public sealed interface AnalysisInput {

    /** Prompts as text; the target is the model's own top-1 prediction unless the step gives one. */
    record Prompts(List<String> prompts) implements AnalysisInput {
    }

    /** Prompts as token-id sequences, for models used without their tokenizer. */
    record TokenIds(List<List<Integer>> sequences) implements AnalysisInput {
    }

    /** The cases of a dataset (docs/method.md A6 format), filtered by label and capped at {@code limit}. */
    record DatasetCases(Path dataset, LabelFilter where, Integer limit) implements AnalysisInput {
        /** The dataset's cases that pass {@code where}, the first {@code limit} of them. */
        public List<EvalCase> cases() {
            List<EvalCase> kept = new ArrayList<>();
            for (EvalCase c : EvalCaseFile.read(dataset)) {
                if (where.matches(c) && (limit == null || kept.size() < limit)) {
                    kept.add(c);
                }
            }
            return kept;
        }
    }

    /** Validates the input keys of an analysis step and returns the one form given. */
    static AnalysisInput of(List<String> prompts, List<List<Integer>> tokenIds, Path dataset,
                            LabelFilter where, Integer limit) {
        SchemaViolation.requireOneOf("input", "'prompts', 'token_ids' or 'dataset'",
                List.of("prompts", "token_ids", "dataset"), prompts, tokenIds, dataset);
        if (dataset == null) {
            if (where != null) {
                throw SchemaViolation.of("'where' filters dataset cases; this step has no dataset").at("where")
                        .got("where").allowed("where together with dataset");
            }
            if (limit != null) {
                throw SchemaViolation.of("'limit' caps dataset cases; this step has no dataset").at("limit")
                        .got("limit").allowed("limit together with dataset");
            }
        }
        if (prompts != null) {
            requireItems(prompts, "prompts");
            return new Prompts(List.copyOf(prompts));
        }
        if (tokenIds != null) {
            if (tokenIds.isEmpty()) {
                throw SchemaViolation.of("empty list").at("token_ids").allowed("one or more token-id sequences");
            }
            for (int i = 0; i < tokenIds.size(); i++) {
                List<Integer> seq = tokenIds.get(i);
                if (seq == null || seq.isEmpty() || seq.stream().anyMatch(t -> t == null || t < 0)) {
                    throw SchemaViolation.of("invalid token-id sequence").at("token_ids", i).gotText(String.valueOf(seq))
                            .allowed("a non-empty list of token ids >= 0, e.g. [1, 18, 5]");
                }
            }
            return new TokenIds(tokenIds.stream().map(List::copyOf).toList());
        }
        if (limit != null && limit < 1) {
            throw SchemaViolation.of("invalid value").at("limit").got(limit).allowed("a whole number >= 1");
        }
        return new DatasetCases(dataset, where == null ? LabelFilter.ALL : where, limit);
    }

    /** Throws unless {@code items} is a non-empty list of non-empty texts. */
    static void requireItems(List<String> items, String key) {
        if (items.isEmpty()) {
            throw SchemaViolation.of("empty list").at(key).allowed("one or more texts");
        }
        for (int i = 0; i < items.size(); i++) {
            if (items.get(i) == null || items.get(i).isEmpty()) {
                throw SchemaViolation.of("empty text").at(key, i).got(items.get(i)).allowed("a non-empty text");
            }
        }
    }
}
