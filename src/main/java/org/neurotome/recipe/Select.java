package org.neurotome.recipe;

import org.neurotome.arch.LayerRange;

import org.neurotome.yaml.SchemaViolation;

/**
 * A {@code select} step: a named subset of one locate step's findings. Filters apply in this
 * order: {@code layers}, then {@code threshold} (score ≥ threshold), then {@code top} (the k
 * highest scores). With {@code per_case}, they apply to each case's ranking and the selection
 * is the union over cases (P1 §6.1: top-500 neurons per case, union kept). Experts are chosen
 * per sparse layer instead: {@code lowest} takes the same number from every layer in
 * {@code layers}, the last of each layer's ranking (REAP's pruning of the lowest-saliency experts,
 * arXiv 2510.13999), so that a {@code prune-experts} leaves every sparse layer the same count.
 *
 * @param id        the name edits refer to as {@code ${id}}
 * @param from      the id of the locate step whose findings are selected
 * @param kind      heads, neurons or experts; may be left out when the locate step yields only
 *                  one kind (the loaded recipe always has it filled in)
 * @param top       keep the k best; null = no limit
 * @param threshold keep scores ≥ this; null = no threshold
 * @param layers    keep entries in these layers; null = all
 * @param perCase   select within each case, then take the union
 * @param lowest    experts only: keep the k lowest-ranked experts of every sparse layer in
 *                  {@code layers}; null for heads and neurons
 */
public record Select(String id, String from, ComponentKind kind, Integer top, Double threshold, LayerRange layers,
                     Boolean perCase, Integer lowest) {
    public Select {
        if (id == null) {
            throw SchemaViolation.missingKey("id", "the name edits refer to as ${id}");
        }
        if (!Reference.ID.matcher(id).matches()) {
            throw SchemaViolation.of("invalid id").at("id").got(id)
                    .allowed("a letter or '_', then letters, digits, '_' or '-'");
        }
        if (from == null) {
            throw SchemaViolation.missingKey("from", "the id of the locate step to select from");
        }
        if (top != null && top < 1) {
            throw SchemaViolation.of("invalid value").at("top").got(top).allowed("a whole number >= 1");
        }
        if (lowest != null && lowest < 1) {
            throw SchemaViolation.of("invalid value").at("lowest").got(lowest).allowed("a whole number >= 1");
        }
        if (threshold != null && !Double.isFinite(threshold)) {
            throw SchemaViolation.of("invalid value").at("threshold").got(threshold).allowed("a finite number");
        }
        if (perCase == null) {
            perCase = false;
        }
    }

    /** This selection with its kind filled in. */
    Select withKind(ComponentKind k) {
        return new Select(id, from, k, top, threshold, layers, perCase, lowest);
    }
}
