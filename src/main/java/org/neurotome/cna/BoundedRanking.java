package org.neurotome.cna;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import org.neurotome.arch.ModelConfig;
import org.neurotome.model.Weights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Attribution and CNA by bounds ({@code docs/bounds.md}): the exact top k neurons (and, for
 * attribution, heads) of the mean over positions and, when kept, of each position, with only
 * the components the bounds cannot rule out scored exactly. A first pass records every chunk
 * of positions and computes what is cheap exactly (coefficients, base and layer scores) and a
 * bound on every neuron and head ({@link LogProbBounds}); then {@link TopKSearch} picks what to
 * score, in rounds that grow geometrically, each round scoring the picked components at every
 * position of every chunk (chunks are recorded again when there were several). Scores are computed as the
 * exhaustive path computes them, so those that are listed are the same numbers. A component
 * never scored is NaN in the returned scores. A mixture of experts' sparse layers are as wide as
 * their experts' units together (docs/bounds.md, "Experts"), so the candidates are numbered
 * layer by layer with each layer's own width ({@link Layout}).
 */
final class BoundedRanking {
    private BoundedRanking() {
    }

    /**
     * The flat numbering of one kind of component: layer l's component i is {@code start[l] + i}
     * ({@code start} has one more entry than there are layers, the total last). Heads and the
     * neurons of a dense model have one width in every layer; a mixture of experts' sparse layers
     * are wider or narrower than its dense ones.
     */
    private record Layout(int[] start) {
        static Layout uniform(int layers, int width) {
            int[] start = new int[layers + 1];
            for (int l = 0; l < layers; l++) {
                start[l + 1] = start[l] + width;
            }
            return new Layout(start);
        }

        /** Every layer's FFN neurons ({@link ModelConfig#ffnWidth}). */
        static Layout neurons(ModelConfig c) {
            int[] start = new int[c.numLayers() + 1];
            for (int l = 0; l < c.numLayers(); l++) {
                start[l + 1] = Math.addExact(start[l], c.ffnWidth(l));
            }
            return new Layout(start);
        }

        int layers() {
            return start.length - 1;
        }

        int size() {
            return start[layers()];
        }

        int width(int l) {
            return start[l + 1] - start[l];
        }

        int flat(int l, int i) {
            return start[l] + i;
        }

        /** The layer of candidate {@code flat}: the last layer starting at or before it. */
        int layer(int flat) {
            int lo = 0;
            int hi = layers() - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (start[mid] <= flat) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            return lo;
        }

        /** Candidate {@code flat}'s index within its layer. */
        int index(int flat) {
            return flat - start[layer(flat)];
        }
    }

    /** The running sum over positions of one run's exact scores of one kind, and each position's own when kept. */
    private static final class Tally {
        final double[] sum;
        final Layout layout;

        Tally(Layout layout) {
            this.sum = new double[layout.size()];
            this.layout = layout;
        }

        float mean(int flat, int count) {
            return (float) (sum[flat] / count);
        }
    }

    /** Bounds summed over positions (the mean's list) and each position's own when kept. */
    private static final class BoundLists {
        final double[] sum;
        final float[][] perStep;

        BoundLists(int size, int steps, boolean keep) {
            sum = new double[size];
            perStep = keep ? new float[steps][size] : null;
        }

        void add(int step, int flat, float bound) {
            sum[flat] += bound;
            if (perStep != null) {
                perStep[step][flat] = bound;
            }
        }

        List<float[]> lists(int steps) {
            List<float[]> out = new ArrayList<>();
            float[] mean = new float[sum.length];
            for (int i = 0; i < mean.length; i++) {
                mean[i] = (float) (sum[i] / steps);
            }
            out.add(mean);
            if (perStep != null) {
                out.addAll(Arrays.asList(perStep));
            }
            return out;
        }
    }

    /** The positions of a prompt set, split into the chunks that are recorded together. */
    private record Chunks(List<PromptSet.Step> steps, int size) {
        /** At most one chunk of all the positions (a chunk's size may be as large as an int holds). */
        Chunks {
            size = Math.max(1, Math.min(size, steps.size()));
        }

        int count() {
            return (steps.size() + size - 1) / size;
        }

        List<PromptSet.Step> get(int i) {
            return steps.subList(i * size, Math.min(steps.size(), (i + 1) * size));
        }

        int first(int i) {
            return i * size;
        }
    }

    // ------------------------------------------------------------------------------------
    // attribution

    static AttributionResult attribution(Attribution at, PromptSet prompts, boolean keepSteps, Scoring scoring) {
        ModelConfig c = at.model().config();
        int layers = c.numLayers();
        Layout neuronLayout = Layout.neurons(c);
        int heads = c.numHeads();
        Layout headLayout = Layout.uniform(layers, heads);
        List<PromptSet.Step> steps = prompts.steps();
        int n = steps.size();
        Chunks chunks = new Chunks(steps, at.rowsPerPass(prompts.maxContext()));
        LogProbBounds bounds = new LogProbBounds(at.projection());
        ComponentScores.Sum sum = new ComponentScores.Sum(c);
        StepScores[] kept = new StepScores[n];
        BoundLists neuronBounds = new BoundLists(neuronLayout.size(), n, keepSteps);
        BoundLists headBounds = new BoundLists(headLayout.size(), n, keepSteps);
        float[][] headBase = new float[n][layers];                                            // the heads' base of each position and layer
        Attribution.Recorded single = null;
        Progress progress = at.options().progress();
        try {
            for (int ch = 0; ch < chunks.count(); ch++) {
                List<PromptSet.Step> part = chunks.get(ch);
                Attribution.Recorded rec = at.record(Attribution.contexts(part), List.of(), Attribution.targets(part), null);
                try {
                    Attribution.Rows rows = new Attribution.Rows(List.of(rec));
                    ComponentScores[] partial = partials(rows.size(), neuronLayout, heads);
                    PullBackBatch batch = new PullBackBatch(at.projection());
                    LogProbBounds.Prepared[] neuronRows = new LogProbBounds.Prepared[layers];
                    LogProbBounds.Prepared[] headRows = new LogProbBounds.Prepared[layers];
                    for (int l = 0; l < layers; l++) {
                        try (NDScope scope = new NDScope()) {
                            Attribution.Layer in = at.layer(List.of(rec), l, rows);
                            Attribution.LayerScores ls = at.layerScores(in, rows, false);
                            cheap(in, ls, partial, 0);
                            for (int r = 0; r < rows.size(); r++) {
                                headBase[chunks.first(ch) + r][l] = ls.hb()[r];
                            }
                            if (scoring.ranks(l)) {
                                neuronRows[l] = bounds.prepare(in.baseU, rows.target, false, batch);
                                headRows[l] = bounds.prepare(at.projection().uncapped(in.pre, rows.s), rows.target,
                                        false, batch);
                            }
                        }
                    }
                    // every layer's pull-backs are queued by now: the first bound computes them all
                    for (int l = 0; l < layers; l++) {
                        if (neuronRows[l] == null) {
                            continue;
                        }
                        try (NDScope scope = new NDScope(); Weights.Lease<NDArray> values = at.model().weights().ffnValues(l)) {
                            Attribution.Layer in = at.taps(List.of(rec), l, rows);
                            LogProbBounds.Bounds nb = bounds.evaluate(neuronRows[l], rowsOf(in.coefficients()),
                                    LogProbBounds.Components.shared(at.projection().values(l, values.get(), null)));
                            LogProbBounds.Bounds hb = bounds.evaluate(headRows[l], inverse(rows.s, heads),
                                    LogProbBounds.Components.perRow(in.perHeadOut));
                            for (int r = 0; r < rows.size(); r++) {
                                int step = chunks.first(ch) + r;
                                for (int i = 0; i < neuronLayout.width(l); i++) {
                                    neuronBounds.add(step, neuronLayout.flat(l, i), nb.upper()[r][i]);
                                }
                                for (int h = 0; h < heads; h++) {
                                    headBounds.add(step, headLayout.flat(l, h), hb.upper()[r][h]);
                                }
                            }
                        }
                    }
                    for (int r = 0; r < rows.size(); r++) {
                        sum.add(partial[r]);
                        kept[chunks.first(ch) + r] = new StepScores(rec.target[r], rec.logprob[r], rec.norm[r],
                                keepSteps ? partial[r] : null);
                    }
                } finally {
                    if (chunks.count() == 1) {
                        single = rec;
                    } else {
                        rec.close();
                    }
                }
                progress.update("positions bounded", Math.min(n, chunks.first(ch + 1)), n);
            }
            BitSet neuronEligible = eligible(scoring, neuronLayout);
            BitSet headEligible = eligible(scoring, headLayout);
            TopKSearch neuronSearch = new TopKSearch(scoring.top(), neuronEligible, neuronBounds.lists(n), 1);
            TopKSearch headSearch = new TopKSearch(scoring.top(), headEligible, headBounds.lists(n), heads);
            Tally neuronTally = new Tally(neuronLayout);
            Tally headTally = new Tally(headLayout);
            while (true) {
                int[] neurons = neuronSearch.next();
                int[] headsToScore = headSearch.next();
                if (neurons.length == 0 && headsToScore.length == 0) {
                    break;
                }
                Map<Integer, int[]> neuronLayers = byLayer(neurons, neuronLayout);
                Map<Integer, int[]> headLayers = byLayer(headsToScore, headLayout);
                for (int ch = 0; ch < chunks.count(); ch++) {
                    List<PromptSet.Step> part = chunks.get(ch);
                    Attribution.Recorded rec = single != null ? single
                            : at.record(Attribution.contexts(part), List.of(), Attribution.targets(part), null);
                    try {
                        Attribution.Rows rows = new Attribution.Rows(List.of(rec));
                        int first = chunks.first(ch);
                        for (int l = 0; l < layers; l++) {
                            int[] ns = neuronLayers.get(l);
                            boolean hs = headLayers.containsKey(l);
                            if (ns == null && !hs) {
                                continue;
                            }
                            try (NDScope scope = new NDScope();
                                 Weights.Lease<NDArray> values = ns == null ? null : at.model().weights().ffnValues(l)) {
                                if (ns != null) {
                                    Attribution.Layer in = at.layer(List.of(rec), l, rows);
                                    float[][] got = at.neuronsAt(in, values.get(), ns, rows);
                                    for (int r = 0; r < rows.size(); r++) {
                                        for (int j = 0; j < ns.length; j++) {
                                            record(neuronTally, kept, first + r, l, ns[j], got[r][j], true);
                                        }
                                    }
                                }
                                if (hs) {
                                    // the heads' base is the first pass's: only the heads' own projections are new
                                    float[] hd = at.headScores(List.of(rec), l, rows);
                                    for (int r = 0; r < rows.size(); r++) {
                                        for (int h = 0; h < heads; h++) {
                                            record(headTally, kept, first + r, l, h, hd[r * heads + h] - headBase[first + r][l],
                                                    false);
                                        }
                                    }
                                }
                            }
                        }
                    } finally {
                        if (single == null) {
                            rec.close();
                        }
                    }
                }
                settle(neuronSearch, neurons, neuronTally, kept, n, true);
                settle(headSearch, headsToScore, headTally, kept, n, false);
                progress.update("neurons scored exactly", neuronSearch.scoredCount(), neuronEligible.cardinality());
            }
            ComponentScores mean = sum.mean();
            fill(mean.neuron(), neuronSearch, neuronTally, n);
            fill(mean.head(), headSearch, headTally, n);
            SortedMap<Integer, Scoring.Summary> forTop = new TreeMap<>();
            for (int t : scoring.alsoFor()) {
                forTop.put(t, new Scoring.Summary(true, neuronSearch.replay(t), neuronLayout.size(),
                        headSearch.replay(t), headLayout.size()));
            }
            Scoring.Summary summary = new Scoring.Summary(true, neuronSearch.scoredCount(), neuronLayout.size(),
                    headSearch.scoredCount(), headLayout.size(), forTop);
            List<StepScores> out = Arrays.asList(kept);
            return new AttributionResult(prompts, out, mean, summary);
        } finally {
            if (single != null) {
                single.close();
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // comparison

    static ComparisonResult comparison(Comparison.Kind kind, Comparison.Side a, Comparison.Side b, boolean keepSteps,
                                       Scoring scoring) {
        Attribution atA = a.attribution();
        Attribution atB = b.attribution();
        ModelConfig c = atA.model().config();
        int layers = c.numLayers();
        Layout layout = Layout.neurons(c);
        int heads = c.numHeads();
        boolean oneModel = atA == atB;
        List<PromptSet.Step> stepsA = a.prompts().steps();
        List<PromptSet.Step> stepsB = b.prompts().steps();
        int n = stepsA.size();
        int maxLen = Math.max(a.prompts().maxContext(), b.prompts().maxContext());
        Chunks chunksA = new Chunks(stepsA, Math.min(atA.rowsPerPass(maxLen), atB.rowsPerPass(maxLen)));
        Chunks chunksB = new Chunks(stepsB, chunksA.size());
        LogProbBounds boundsA = new LogProbBounds(atA.projection());
        LogProbBounds boundsB = oneModel ? boundsA : new LogProbBounds(atB.projection());
        ComponentScores.Sum sumA = new ComponentScores.Sum(c);
        ComponentScores.Sum sumB = new ComponentScores.Sum(c);
        StepScores[] keptA = new StepScores[n];
        StepScores[] keptB = new StepScores[n];
        BoundLists diffBounds = new BoundLists(layout.size(), n, keepSteps);
        Attribution.Recorded[] single = null;
        Progress progress = atA.options().progress();
        try {
            for (int ch = 0; ch < chunksA.count(); ch++) {
                Attribution.Recorded[] rec = record(a, b, chunksA.get(ch), chunksB.get(ch));
                try {
                    int rows = rec[0].rows();
                    ComponentScores[] partA = partials(rows, layout, heads);
                    ComponentScores[] partB = partials(rows, layout, heads);
                    PullBackBatch batchA = new PullBackBatch(atA.projection());
                    PullBackBatch batchB = oneModel ? batchA : new PullBackBatch(atB.projection());
                    LogProbBounds.Prepared[] upperRows = new LogProbBounds.Prepared[layers];
                    LogProbBounds.Prepared[] lowerRows = new LogProbBounds.Prepared[layers];
                    boolean[][] same = new boolean[layers][];
                    for (int l = 0; l < layers; l++) {
                        try (NDScope scope = new NDScope()) {
                            Side[] side = sides(atA, atB, rec, l, true);
                            Attribution.LayerScores lsA = side[0].attribution().layerScores(side[0].in(),
                                    side[0].rows(), false);
                            cheap(side[0].in(), lsA, partA, 0);
                            cheap(side[1].in(), oneModel ? lsA : side[1].attribution().layerScores(side[1].in(),
                                    side[1].rows(), false), partB, side[1].offset());
                            if (scoring.ranks(l)) {
                                upperRows[l] = side[0].prepare(boundsA, false, batchA);
                                lowerRows[l] = side[1].prepare(boundsB, true, batchB);
                                same[l] = oneModel ? sameRows(side[0].in(), rows) : new boolean[rows];
                            }
                        }
                    }
                    // every layer's pull-backs are queued by now: the first bound computes them all
                    for (int l = 0; l < layers; l++) {
                        if (upperRows[l] == null) {
                            continue;
                        }
                        try (NDScope scope = new NDScope();
                             Weights.Lease<NDArray> valuesA = atA.model().weights().ffnValues(l);
                             Weights.Lease<NDArray> valuesB = oneModel ? null : atB.model().weights().ffnValues(l)) {
                            Side[] side = sides(atA, atB, rec, l, false);
                            LogProbBounds.Bounds upper = side[0].evaluate(boundsA, upperRows[l], valuesA.get());
                            LogProbBounds.Bounds lower = side[1].evaluate(boundsB, lowerRows[l],
                                    (oneModel ? valuesA : valuesB).get());
                            for (int r = 0; r < rows; r++) {
                                int step = chunksA.first(ch) + r;
                                for (int i = 0; i < layout.width(l); i++) {
                                    float bound = same[l][r] ? upper.slack()[r][i] + lower.slack()[r][i]
                                            : upper.upper()[r][i] - lower.lower()[r][i];
                                    diffBounds.add(step, layout.flat(l, i), bound);
                                }
                            }
                        }
                    }
                    for (int r = 0; r < rows; r++) {
                        int step = chunksA.first(ch) + r;
                        sumA.add(partA[r]);
                        sumB.add(partB[r]);
                        keptA[step] = new StepScores(rec[0].target[r], rec[0].logprob[r], rec[0].norm[r],
                                keepSteps ? partA[r] : null);
                        keptB[step] = new StepScores(rec[1].target[r], rec[1].logprob[r], rec[1].norm[r],
                                keepSteps ? partB[r] : null);
                    }
                } finally {
                    if (chunksA.count() == 1) {
                        single = rec;
                    } else {
                        close(rec);
                    }
                }
                progress.update("positions bounded", Math.min(n, chunksA.first(ch + 1)), n);
            }
            BitSet eligible = eligible(scoring, layout);
            TopKSearch search = new TopKSearch(scoring.top(), eligible, diffBounds.lists(n), 1);
            Tally tallyA = new Tally(layout);
            Tally tallyB = new Tally(layout);
            while (true) {
                int[] neurons = search.next();
                if (neurons.length == 0) {
                    break;
                }
                Map<Integer, int[]> byLayer = byLayer(neurons, layout);
                for (int ch = 0; ch < chunksA.count(); ch++) {
                    Attribution.Recorded[] rec = single != null ? single : record(a, b, chunksA.get(ch), chunksB.get(ch));
                    try {
                        int first = chunksA.first(ch);
                        for (Map.Entry<Integer, int[]> e : byLayer.entrySet()) {
                            int l = e.getKey();
                            int[] ns = e.getValue();
                            try (NDScope scope = new NDScope();
                                 Weights.Lease<NDArray> valuesA = atA.model().weights().ffnValues(l);
                                 Weights.Lease<NDArray> valuesB = oneModel ? null : atB.model().weights().ffnValues(l)) {
                                Side[] side = sides(atA, atB, rec, l, true);
                                float[][][] got = exact(side, valuesA.get(), (oneModel ? valuesA : valuesB).get(), ns);
                                float[][] gotA = got[0];
                                float[][] gotB = got[1];
                                for (int r = 0; r < rec[0].rows(); r++) {
                                    for (int j = 0; j < ns.length; j++) {
                                        record(tallyA, keptA, first + r, l, ns[j], gotA[r][j], true);
                                        record(tallyB, keptB, first + r, l, ns[j], gotB[r][j], true);
                                    }
                                }
                            }
                        }
                    } finally {
                        if (single == null) {
                            close(rec);
                        }
                    }
                }
                for (int cand : neurons) {
                    float diff = tallyA.mean(cand, n) - tallyB.mean(cand, n);
                    search.set(0, cand, diff);
                    for (int s = 0; keepSteps && s < n; s++) {
                        int l = layout.layer(cand);
                        int i = layout.index(cand);
                        search.set(s + 1, cand, keptA[s].scores().neuron()[l][i] - keptB[s].scores().neuron()[l][i]);
                    }
                }
                search.scored(neurons);
                progress.update("neurons scored exactly", search.scoredCount(), eligible.cardinality());
            }
            ComponentScores meanA = sumA.mean();
            ComponentScores meanB = sumB.mean();
            fill(meanA.neuron(), search, tallyA, n);
            fill(meanB.neuron(), search, tallyB, n);
            SortedMap<Integer, Scoring.Summary> forTop = new TreeMap<>();
            for (int t : scoring.alsoFor()) {
                forTop.put(t, new Scoring.Summary(true, search.replay(t), layout.size(), -1, -1));
            }
            Scoring.Summary summary = new Scoring.Summary(true, search.scoredCount(), layout.size(), -1, -1,
                    forTop);
            return new ComparisonResult(kind, a, b, Arrays.asList(keptA), Arrays.asList(keptB), meanA, meanB, summary);
        } finally {
            if (single != null) {
                close(single);
            }
        }
    }

    /** One run's rows of a layer as scored: which attribution, the joined layer, and which of its rows are this run's. */
    private record Side(Attribution attribution, Attribution.Layer in, Attribution.Rows rows, int offset, int count) {
        /** This run's rows reduced to what their bounds need (upper, or lower too when {@code lower}), pull-backs queued in {@code batch}. */
        LogProbBounds.Prepared prepare(LogProbBounds b, boolean lower, PullBackBatch batch) {
            int[] target = Arrays.copyOfRange(rows.target, offset, offset + count);
            return b.prepare(in.baseU.get(new NDIndex(offset + ":" + (offset + count))), target, lower, batch);
        }

        /** The bounds of this run's prepared rows, from the layer's value vectors {@code values}. */
        LogProbBounds.Bounds evaluate(LogProbBounds b, LogProbBounds.Prepared prepared, NDArray values) {
            float[][] a = rowsOf(in.coefficients().get(new NDIndex(offset + ":" + (offset + count))));
            return b.evaluate(prepared, a,
                    LogProbBounds.Components.shared(attribution.projection().values(in.index, values, null)));
        }
    }

    /**
     * Run A's and run B's rows of layer {@code l}: of one model, both runs' rows joined in one
     * layer (as the exhaustive path scores them, A's first); of two, each model's own. Their
     * bases are projected when {@code project}, else only what was recorded is joined
     * ({@link Attribution#taps}).
     */
    private static Side[] sides(Attribution atA, Attribution atB, Attribution.Recorded[] rec, int l, boolean project) {
        int rows = rec[0].rows();
        if (atA == atB) {
            List<Attribution.Recorded> both = List.of(rec[0], rec[1]);
            Attribution.Rows all = new Attribution.Rows(both);
            Attribution.Layer in = project ? atA.layer(both, l, all) : atA.taps(both, l, all);
            return new Side[] {new Side(atA, in, all, 0, rows), new Side(atA, in, all, rows, rows)};
        }
        Attribution.Rows rowsA = new Attribution.Rows(List.of(rec[0]));
        Attribution.Rows rowsB = new Attribution.Rows(List.of(rec[1]));
        return new Side[] {
                new Side(atA, project ? atA.layer(List.of(rec[0]), l, rowsA) : atA.taps(List.of(rec[0]), l, rowsA),
                        rowsA, 0, rows),
                new Side(atB, project ? atB.layer(List.of(rec[1]), l, rowsB) : atB.taps(List.of(rec[1]), l, rowsB),
                        rowsB, 0, rows)};
    }

    /** The exact increases of {@code neurons} in run A's and run B's rows, [2][R][n]; one product when they share a layer. */
    private static float[][][] exact(Side[] side, NDArray valuesA, NDArray valuesB, int[] neurons) {
        if (side[0].in() == side[1].in()) {
            float[][] all = side[0].attribution().neuronsAt(side[0].in(), valuesA, neurons, side[0].rows());
            int rows = side[0].count();
            return new float[][][] {Arrays.copyOfRange(all, 0, rows), Arrays.copyOfRange(all, rows, 2 * rows)};
        }
        return new float[][][] {side[0].attribution().neuronsAt(side[0].in(), valuesA, neurons, side[0].rows()),
                side[1].attribution().neuronsAt(side[1].in(), valuesB, neurons, side[1].rows())};
    }

    /**
     * Rows where both runs entered the layer's FFN with the same residual and coefficients
     * (bit for bit; rows of one model joined A then B): there every neuron's increase is the
     * same in both runs, so its difference is 0 up to rounding (below an ablated head's layer).
     */
    private static boolean[] sameRows(Attribution.Layer in, int rows) {
        float[] mid = in.mid.toFloatArray();
        float[] post = in.post.toFloatArray();
        int d = mid.length / (2 * rows);
        int ffn = post.length / (2 * rows);
        boolean[] out = new boolean[rows];
        for (int r = 0; r < rows; r++) {
            out[r] = Arrays.equals(mid, r * d, (r + 1) * d, mid, (rows + r) * d, (rows + r + 1) * d)
                    && Arrays.equals(post, r * ffn, (r + 1) * ffn, post, (rows + r) * ffn, (rows + r + 1) * ffn)
                    && (in.postScale == null || in.postScale[r] == in.postScale[rows + r]);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------
    // shared steps

    /** Records run A's chunk, then run B's with A's targets and norms. */
    private static Attribution.Recorded[] record(Comparison.Side a, Comparison.Side b, List<PromptSet.Step> partA,
                                                 List<PromptSet.Step> partB) {
        Attribution.Recorded recA = a.attribution().record(Attribution.contexts(partA), a.ablate(),
                Attribution.targets(partA), null);
        try {
            return new Attribution.Recorded[] {recA, b.attribution().record(Attribution.contexts(partB), b.ablate(),
                    recA.target.clone(), recA.norms())};
        } catch (RuntimeException | Error e) {
            recA.close();
            throw e;
        }
    }

    private static void close(Attribution.Recorded[] rec) {
        for (Attribution.Recorded r : rec) {
            r.close();
        }
    }

    /** Partial scores of {@code rows} positions: neurons and heads NaN (not scored) until filled. */
    private static ComponentScores[] partials(int rows, Layout neurons, int heads) {
        int layers = neurons.layers();
        ComponentScores[] out = new ComponentScores[rows];
        for (int r = 0; r < rows; r++) {
            float[][] neuron = new float[layers][];
            float[][] head = new float[layers][heads];
            for (int l = 0; l < layers; l++) {
                neuron[l] = new float[neurons.width(l)];
                Arrays.fill(neuron[l], Float.NaN);
                Arrays.fill(head[l], Float.NaN);
            }
            out[r] = new ComponentScores(neuron, new float[layers][], new double[layers], head, new double[layers],
                    new double[layers], new double[layers]);
        }
        return out;
    }

    /** Writes a layer's exactly computed cheap scores (coefficients, bases, whole layers) into rows {@code offset …} of {@code in}. */
    private static void cheap(Attribution.Layer in, Attribution.LayerScores ls, ComponentScores[] into, int offset) {
        int l = in.index;
        int ffn = (int) in.post.getShape().get(1);
        float[] cf = in.post.toFloatArray();
        for (int r = 0; r < into.length; r++) {
            int at = offset + r;
            ComponentScores s = into[r];
            s.coef()[l] = Arrays.copyOfRange(cf, at * ffn, (at + 1) * ffn);
            s.neuronBase()[l] = in.nb[at];
            s.headBase()[l] = ls.hb()[at];
            s.attention()[l] = ls.att()[at] - ls.hb()[at];
            s.ffn()[l] = ls.ff()[at] - in.nb[at];
        }
    }

    private static float[][] rowsOf(NDArray a) {
        int rows = (int) a.getShape().get(0);
        int n = (int) a.getShape().get(1);
        float[] flat = a.toFloatArray();
        float[][] out = new float[rows][];
        for (int r = 0; r < rows; r++) {
            out[r] = Arrays.copyOfRange(flat, r * n, (r + 1) * n);
        }
        return out;
    }

    /** 1/s of each row, for each of {@code width} components: a head's coefficient under the frozen norm. */
    private static float[][] inverse(float[] s, int width) {
        float[][] out = new float[s.length][width];
        for (int r = 0; r < s.length; r++) {
            Arrays.fill(out[r], 1 / s[r]);
        }
        return out;
    }

    private static BitSet eligible(Scoring scoring, Layout layout) {
        BitSet out = new BitSet();
        for (int l = 0; l < layout.layers(); l++) {
            if (scoring.ranks(l)) {
                out.set(layout.flat(l, 0), layout.flat(l + 1, 0));
            }
        }
        return out;
    }

    /** Candidates by layer, each layer's indices ascending. */
    private static Map<Integer, int[]> byLayer(int[] flat, Layout layout) {
        Map<Integer, List<Integer>> m = new TreeMap<>();
        for (int f : flat) {
            m.computeIfAbsent(layout.layer(f), k -> new ArrayList<>()).add(layout.index(f));
        }
        Map<Integer, int[]> out = new TreeMap<>();
        m.forEach((l, v) -> out.put(l, v.stream().mapToInt(Integer::intValue).toArray()));
        return out;
    }

    /** Adds one position's exact score to the tally (in position order) and to the kept position's scores. */
    private static void record(Tally t, StepScores[] kept, int step, int l, int i, float v, boolean neuron) {
        t.sum[t.layout.flat(l, i)] += v;
        ComponentScores s = kept[step] == null ? null : kept[step].scores();
        if (s != null) {
            (neuron ? s.neuron() : s.head())[l][i] = v;
        }
    }

    /** Gives the search the exact values of what was just scored: the mean, and each kept position's. */
    private static void settle(TopKSearch search, int[] scored, Tally t, StepScores[] kept, int n, boolean neuron) {
        for (int cand : scored) {
            search.set(0, cand, t.mean(cand, n));
            for (int s = 0; s < n; s++) {
                ComponentScores sc = kept[s].scores();
                if (sc != null) {
                    search.set(s + 1, cand,
                            (neuron ? sc.neuron() : sc.head())[t.layout.layer(cand)][t.layout.index(cand)]);
                }
            }
        }
        search.scored(scored);
    }

    /** Writes the mean of every scored component into {@code mean} [L][W]; the rest stay NaN. */
    private static void fill(float[][] mean, TopKSearch search, Tally t, int n) {
        for (int l = 0; l < mean.length; l++) {
            for (int i = 0; i < mean[l].length; i++) {
                int flat = t.layout.flat(l, i);
                mean[l][i] = search.isScored(flat) ? t.mean(flat, n) : Float.NaN;
            }
        }
    }
}
