package org.neurotome.cna;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.Head;
import org.neurotome.arch.ModelConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Comparative Neuron Analysis (docs/method.md A4; Yu &amp; Ananiadou, EMNLP 2024, §4.1 and
 * {@code Llama_view_arithmetic_CNA.ipynb}): {@code CNA(l,k) = Imp_A(l,k) − Imp_B(l,k)} for
 * every FFN neuron, where run B is scored with run A's frozen final norm and A's target at
 * each position, and each run uses its own residuals and coefficients (and its own final-norm
 * weight and unembedding when B is another checkpoint). Four pairings: the same model with
 * heads ablated, another checkpoint of the same shape, the same checkpoint with a LoRA adapter
 * (§5), and the same model on prompts that differ in one word. Over a data set the scores are
 * averaged over positions. Every neuron is scored, or only those that bounds cannot rule out of
 * the top k ({@link Scoring}). When both runs
 * are of one model their rows are scored together, so each layer's value vectors are read and
 * projected once for both.
 */
public final class Comparison {
    /** What run B is. */
    public enum Kind {
        HEADS_ABLATED, CHECKPOINTS, ADAPTER, CONTRAST;

        /** The name written into findings: the constant's, in lower case with '-' between words. */
        public String key() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /**
     * One run: an attribution (model and projection), the prompts it reads and the heads it
     * has ablated.
     */
    public record Side(Attribution attribution, PromptSet prompts, List<Head> ablate) {
        public Side {
            ablate = List.copyOf(ablate);
        }
    }

    private Comparison() {
    }

    /** Run A = {@code attribution} on {@code prompts}; run B = the same with {@code ablate} zeroed. */
    public static ComparisonResult headsAblated(Attribution attribution, PromptSet prompts, List<Head> ablate,
                                                boolean keepSteps, Scoring scoring) {
        if (ablate.isEmpty()) {
            throw NeurotomeException.badInput("a heads-ablated comparison needs at least one head to ablate");
        }
        return run(Kind.HEADS_ABLATED, new Side(attribution, prompts, List.of()), new Side(attribution, prompts, ablate),
                keepSteps, scoring);
    }

    /** Run A = model {@code a}; run B = model {@code b}, of the same shape, on the same prompts. */
    public static ComparisonResult checkpoints(Attribution a, Attribution b, PromptSet prompts, boolean keepSteps,
                                               Scoring scoring) {
        return run(Kind.CHECKPOINTS, new Side(a, prompts, List.of()), new Side(b, prompts, List.of()), keepSteps,
                scoring);
    }

    /**
     * Run A = model {@code a}; run B = the same checkpoint with a LoRA adapter on its weights
     * ({@code b}), on the same prompts: the base model against its fine-tuning (P1 §5).
     */
    public static ComparisonResult adapter(Attribution a, Attribution b, PromptSet prompts, boolean keepSteps,
                                           Scoring scoring) {
        return run(Kind.ADAPTER, new Side(a, prompts, List.of()), new Side(b, prompts, List.of()), keepSteps, scoring);
    }

    /** Run A = {@code a} prompts; run B = {@code b} prompts (e.g. one word swapped), same model, A's targets. */
    public static ComparisonResult contrast(Attribution attribution, PromptSet a, PromptSet b, boolean keepSteps,
                                            Scoring scoring) {
        return run(Kind.CONTRAST, new Side(attribution, a, List.of()), new Side(attribution, b, List.of()), keepSteps,
                scoring);
    }

    /**
     * Scores A, then B with A's norms and targets, position by position, every neuron exactly
     * or as {@code scoring} says. {@code keepSteps} keeps each position's scores of both runs.
     */
    public static ComparisonResult run(Kind kind, Side a, Side b, boolean keepSteps, Scoring scoring) {
        checkSameShape(a.attribution().model().config(), b.attribution().model().config());
        if (a.prompts().steps().size() != b.prompts().steps().size()) {
            throw NeurotomeException.badInput("the two runs score " + a.prompts().steps().size() + " and "
                    + b.prompts().steps().size() + " positions; a comparison pairs them one to one");
        }
        return scoring.exhaustive() ? exhaustive(kind, a, b, keepSteps)
                : BoundedRanking.comparison(kind, a, b, keepSteps, scoring);
    }

    /** Every neuron of both runs scored exactly. */
    private static ComparisonResult exhaustive(Kind kind, Side a, Side b, boolean keepSteps) {
        List<PromptSet.Step> stepsA = a.prompts().steps();
        List<PromptSet.Step> stepsB = b.prompts().steps();
        ModelConfig c = a.attribution().model().config();
        ComponentScores.Sum sumA = new ComponentScores.Sum(c);
        ComponentScores.Sum sumB = new ComponentScores.Sum(c);
        List<StepScores> keptA = new ArrayList<>();
        List<StepScores> keptB = new ArrayList<>();
        int maxLen = Math.max(a.prompts().maxContext(), b.prompts().maxContext());
        int chunk = Math.min(a.attribution().rowsPerPass(maxLen), b.attribution().rowsPerPass(maxLen));
        Progress progress = a.attribution().options().progress();
        boolean oneModel = a.attribution() == b.attribution();
        for (int from = 0; from < stepsA.size(); from += chunk) {
            int to = Math.min(stepsA.size(), from + chunk);
            List<PromptSet.Step> partA = stepsA.subList(from, to);
            List<PromptSet.Step> partB = stepsB.subList(from, to);
            List<StepScores> scoredA;
            List<StepScores> scoredB;
            try (Attribution.Recorded recA = a.attribution().record(Attribution.contexts(partA), a.ablate(),
                    Attribution.targets(partA), null);
                 Attribution.Recorded recB = b.attribution().record(Attribution.contexts(partB), b.ablate(),
                         recA.target.clone(), recA.norms())) {
                if (oneModel) {
                    List<List<StepScores>> both = a.attribution().scoreRecorded(List.of(recA, recB));
                    scoredA = both.get(0);
                    scoredB = both.get(1);
                } else {
                    scoredA = a.attribution().scoreRecorded(List.of(recA)).getFirst();
                    scoredB = b.attribution().scoreRecorded(List.of(recB)).getFirst();
                }
            }
            for (int i = 0; i < scoredA.size(); i++) {
                sumA.add(scoredA.get(i).scores());
                sumB.add(scoredB.get(i).scores());
                keptA.add(keepSteps ? scoredA.get(i) : stripped(scoredA.get(i)));
                keptB.add(keepSteps ? scoredB.get(i) : stripped(scoredB.get(i)));
            }
            progress.update("positions", to, stepsA.size());
        }
        return new ComparisonResult(kind, a, b, keptA, keptB, sumA.mean(), sumB.mean(),
                Scoring.Summary.exhaustive(c.totalNeurons(), -1));
    }

    private static StepScores stripped(StepScores s) {
        return new StepScores(s.target(), s.logprob(), s.norm(), null);
    }

    private static void checkSameShape(ModelConfig a, ModelConfig b) {
        String[] names = {"num_layers", "num_heads", "hidden_size", "ffn_size", "vocab_size"};
        int[] va = {a.numLayers(), a.numHeads(), a.hiddenSize(), a.ffnSize(), a.vocabSize()};
        int[] vb = {b.numLayers(), b.numHeads(), b.hiddenSize(), b.ffnSize(), b.vocabSize()};
        for (int i = 0; i < names.length; i++) {
            if (va[i] != vb[i]) {
                throw NeurotomeException.badInput("the two models differ in " + names[i] + " (" + va[i] + " vs " + vb[i]
                        + "); CNA compares neurons of models of the same shape");
            }
        }
    }
}
