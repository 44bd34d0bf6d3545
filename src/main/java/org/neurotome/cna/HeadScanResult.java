package org.neurotome.cna;

import org.neurotome.arch.Head;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.Set;

/**
 * The outcome of a {@link HeadScan}: for each step the token scored and its log-probability
 * and top-1 hit, unablated and with each head ablated, summarised per head over the cases.
 * A case's probability is the product of its steps' (teacher-forced) probabilities and it is
 * correct when every step's top-1 is its target. Accuracies are in percent, drops in
 * percentage points; a relative drop is the drop as a percentage of the original accuracy
 * (docs/method.md A6: decreases both in points and relative to the original).
 */
public final class HeadScanResult extends AblationScanResult {
    /** Accuracy on the cases with one label value. */
    public record LabelAccuracy(int cases, double accuracy, double drop, double relativeDrop) {
    }

    /**
     * What ablating one head does, averaged over the cases.
     *
     * @param prob         mean probability of the target
     * @param logprob      mean log-probability of the target (summed over its tokens)
     * @param drop         unablated mean probability minus {@code prob}
     * @param logprobDrop  unablated mean log-probability minus {@code logprob}
     * @param accuracy     percent of cases still correct
     * @param accuracyDrop unablated accuracy minus {@code accuracy}, in points
     * @param relativeDrop {@code accuracyDrop} in percent of the unablated accuracy (NaN when that is 0)
     * @param byLabel      label key → value → accuracy on those cases
     */
    public record HeadEffect(Head head, double prob, double logprob, double drop, double logprobDrop, double accuracy,
                             double accuracyDrop, double relativeDrop,
                             SequencedMap<String, SequencedMap<String, LabelAccuracy>> byLabel) implements Effect {
    }

    private final List<String> groupBy;

    HeadScanResult(PromptSet prompts, int[] target, float[] baseLogprob, boolean[] baseTop1, float[][][] logprob,
                   boolean[][][] top1, List<String> groupBy) {
        super(prompts, target, baseLogprob, baseTop1, logprob, top1);
        this.groupBy = groupBy != null ? groupBy : labelsWorthGrouping(prompts);
    }

    /**
     * The result of the scan of {@code prompts} from its shards 0 … n−1 ({@link HeadScan#runShard}),
     * in order: their per-step scores side by side, so it equals the unsharded scan's bit for bit.
     * Shards of other prompts, missing or out of order are refused as bad input.
     *
     * @param groupBy as {@link HeadScan.Options#groupBy()}
     */
    public static HeadScanResult merge(PromptSet prompts, List<HeadScanShard> shards, List<String> groupBy) {
        HeadScanShard[] parts = shards.toArray(HeadScanShard[]::new);
        HeadScanShard.checkCover(prompts, parts);
        int n = prompts.steps().size();
        int layers = parts[0].logprob().length;
        int heads = layers == 0 ? 0 : parts[0].logprob()[0].length;
        int[] target = new int[n];
        float[] baseLogprob = new float[n];
        boolean[] baseTop1 = new boolean[n];
        float[][][] logprob = new float[layers][heads][n];
        boolean[][][] top1 = new boolean[layers][heads][n];
        for (HeadScanShard s : parts) {
            int at = s.firstStep();
            int k = s.steps();
            System.arraycopy(s.target(), 0, target, at, k);
            System.arraycopy(s.baseLogprob(), 0, baseLogprob, at, k);
            System.arraycopy(s.baseTop1(), 0, baseTop1, at, k);
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(s.logprob()[l][h], 0, logprob[l][h], at, k);
                    System.arraycopy(s.top1()[l][h], 0, top1[l][h], at, k);
                }
            }
        }
        return new HeadScanResult(prompts, target, baseLogprob, baseTop1, logprob, top1, groupBy);
    }

    /** Label keys with between 2 and 16 distinct values over the cases, in the first case's key order. */
    private static List<String> labelsWorthGrouping(PromptSet prompts) {
        List<String> keys = new ArrayList<>();
        for (String key : prompts.cases().getFirst().labels().keySet()) {
            Set<Object> values = new LinkedHashSet<>();
            for (PromptSet.Case c : prompts.cases()) {
                values.add(String.valueOf(c.labels().get(key)));
            }
            if (values.size() >= 2 && values.size() <= 16) {
                keys.add(key);
            }
        }
        return keys;
    }

    /** The label keys accuracies are broken down by. */
    public List<String> groupBy() {
        return groupBy;
    }

    public int layers() {
        return logprob.length;
    }

    public int heads() {
        return logprob[0].length;
    }

    /** Unablated accuracy per label value. */
    public SequencedMap<String, SequencedMap<String, LabelAccuracy>> baseByLabel() {
        return byLabel(baseTop1, baseTop1);
    }

    /** The share of target tokens predicted top-1 without any ablation. */
    public double baseTokenAccuracy() {
        return share(baseTop1);
    }

    /** The share of target tokens predicted top-1 with {@code head} ablated. */
    public double tokenAccuracy(Head head) {
        return share(top1[head.layer()][head.head()]);
    }

    private static double share(boolean[] hits) {
        int right = 0;
        for (boolean h : hits) {
            right += h ? 1 : 0;
        }
        return (double) right / hits.length;
    }

    /** The unablated outcome per case: log-probability of its target tokens and whether it is correct. */
    public List<CaseOutcome> baseCases() {
        List<CaseOutcome> out = new ArrayList<>();
        for (int i = 0; i < caseSteps.cases(); i++) {
            int[] steps = caseSteps.of(i);
            double lp = 0;
            for (int s : steps) {
                lp += baseLogprob[s];
            }
            int[] ids = new int[steps.length];
            for (int j = 0; j < ids.length; j++) {
                ids[j] = target[steps[j]];
            }
            out.add(new CaseOutcome(i, ids, lp, caseSteps.correct(baseTop1, i)));
        }
        return out;
    }

    /** One case's unablated outcome. */
    public record CaseOutcome(int caseIndex, int[] targets, double logprob, boolean correct) {
    }

    /** Log-probability of step {@code step}'s target with {@code head} ablated. */
    public float stepLogprob(Head head, int step) {
        return logprob[head.layer()][head.head()][step];
    }

    /** Whether step {@code step}'s top-1 is still its target with {@code head} ablated. */
    public boolean stepTop1(Head head, int step) {
        return top1[head.layer()][head.head()][step];
    }

    /** The effect of ablating {@code head}. */
    public HeadEffect effect(Head head) {
        float[] lp = logprob[head.layer()][head.head()];
        boolean[] hit = top1[head.layer()][head.head()];
        double prob = caseSteps.meanProb(lp);
        double logp = caseSteps.meanLogprob(lp);
        double acc = caseSteps.accuracy(hit);
        double baseAcc = baseAccuracy();
        return new HeadEffect(head, prob, logp, baseProb() - prob, baseLogprob() - logp, acc, baseAcc - acc,
                relative(baseAcc, acc), byLabel(hit, baseTop1));
    }

    /**
     * Every head, most harmful ablation first: by probability drop for a single case, by
     * accuracy drop (then probability drop) over several; ties to the lower layer, then head.
     */
    public List<HeadEffect> ranked() {
        List<HeadEffect> all = new ArrayList<>();
        for (int l = 0; l < layers(); l++) {
            for (int h = 0; h < heads(); h++) {
                all.add(effect(new Head(l, h)));
            }
        }
        Comparator<HeadEffect> order = singleCase()
                ? Comparator.comparingDouble(e -> -e.drop())
                : Comparator.<HeadEffect>comparingDouble(e -> -e.accuracyDrop()).thenComparingDouble(e -> -e.drop());
        all.sort(order.thenComparing(HeadEffect::head));
        return all;
    }

    /** The ranking value of every head, [layer][head]. */
    public double[][] rankingTable() {
        double[][] t = new double[layers()][heads()];
        for (int l = 0; l < layers(); l++) {
            for (int h = 0; h < heads(); h++) {
                HeadEffect e = effect(new Head(l, h));
                t[l][h] = singleCase() ? e.drop() : e.accuracyDrop();
            }
        }
        return t;
    }

    private SequencedMap<String, SequencedMap<String, LabelAccuracy>> byLabel(boolean[] hit, boolean[] base) {
        SequencedMap<String, SequencedMap<String, LabelAccuracy>> out = new LinkedHashMap<>();
        for (String key : groupBy) {
            Map<String, List<Integer>> groups = new LinkedHashMap<>();
            for (int i = 0; i < caseSteps.cases(); i++) {
                Object v = prompts.cases().get(i).labels().get(key);
                if (v != null) {
                    groups.computeIfAbsent(String.valueOf(v), k -> new ArrayList<>()).add(i);
                }
            }
            SequencedMap<String, LabelAccuracy> values = new LinkedHashMap<>();
            groups.forEach((value, cases) -> {
                double acc = caseSteps.accuracy(hit, cases);
                double baseAcc = caseSteps.accuracy(base, cases);
                values.put(value, new LabelAccuracy(cases.size(), acc, baseAcc - acc, relative(baseAcc, acc)));
            });
            out.put(key, values);
        }
        return out;
    }

    private static double relative(double base, double ablated) {
        return base == 0 ? Double.NaN : 100.0 * (base - ablated) / base;
    }
}
