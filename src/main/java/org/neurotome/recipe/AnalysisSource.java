package org.neurotome.recipe;

import org.neurotome.analysis.ShardStore;
import org.neurotome.cna.Findings;
import org.neurotome.eval.BaselineScores;
import org.neurotome.eval.Suite;
import org.neurotome.model.MemoryBudget;

import java.nio.file.Path;
import java.util.List;
import java.util.function.BiFunction;

/**
 * Where a run's analyses come from: computed by the run itself ({@link #OWN}, as {@code apply}
 * does), or shared with other runs that need the same ranking. A sweep over an analysis's
 * {@code top} computes the ranking once, with the largest top of its variants, and each variant
 * cuts its own top from it: a bounded search finds the same exact top K for every K up to the
 * one it was asked for (docs/bounds.md). The eval's measurement of the unedited input, which
 * every output of the same input is compared with, is shared the same way ({@link #baseline}).
 */
public interface AnalysisSource {
    /** Every analysis computed by the run that needs it. */
    AnalysisSource OWN = (step, analysis, run) -> run.apply(analysis, List.of());

    /**
     * The full findings of locate step {@code step} (before its own top and layers cut them).
     *
     * @param run computes the findings of an analysis, on the run's model, stating too what
     *            bounded searches for the smaller tops given would have scored
     */
    Findings findings(int step, Locate.Analysis analysis, BiFunction<Locate.Analysis, List<Integer>, Findings> run);

    /**
     * The input checkpoint {@code input}'s scores on {@code suite}'s cases, that the eval compares
     * the output with; null (as {@link #OWN} answers) has the eval score the input itself.
     */
    default BaselineScores baseline(Suite suite, Path input, ai.djl.Device device, MemoryBudget budget) {
        return null;
    }

    /** Where locate step {@code step}'s shards are computed when it runs in shards: by the run itself unless shared. */
    default ShardStore shards(int step) {
        return ShardStore.OWN;
    }
}
