package org.neurotome.cna;

/**
 * What an ablation scan measured — {@link HeadScan} ablates heads, {@link ExpertScan} removes
 * experts from the routing: for each step the token scored and its log-probability and top-1
 * hit, unablated and with each unit of each scanned layer ablated, summarised over the cases as
 * {@link CaseSteps} says (docs/method.md A6). A single case is ranked by the drop in
 * probability, several by the drop in accuracy.
 */
public abstract sealed class AblationScanResult permits HeadScanResult, ExpertScanResult {
    final PromptSet prompts;
    final int[] target;
    final float[] baseLogprob;
    final boolean[] baseTop1;
    /** [scanned layer][unit][step]. */
    final float[][][] logprob;
    /** [scanned layer][unit][step]. */
    final boolean[][][] top1;
    final CaseSteps caseSteps;

    AblationScanResult(PromptSet prompts, int[] target, float[] baseLogprob, boolean[] baseTop1, float[][][] logprob,
                       boolean[][][] top1) {
        this.prompts = prompts;
        this.target = target;
        this.baseLogprob = baseLogprob;
        this.baseTop1 = baseTop1;
        this.logprob = logprob;
        this.top1 = top1;
        this.caseSteps = new CaseSteps(prompts);
    }

    public PromptSet prompts() {
        return prompts;
    }

    /** The token scored at each step (the model's top-1 where the case gave no target). */
    public int[] targets() {
        return target.clone();
    }

    /** Mean unablated probability of the targets over the cases. */
    public double baseProb() {
        return caseSteps.meanProb(baseLogprob);
    }

    /** Mean unablated log-probability of the targets over the cases. */
    public double baseLogprob() {
        return caseSteps.meanLogprob(baseLogprob);
    }

    /** Unablated accuracy in percent. */
    public double baseAccuracy() {
        return caseSteps.accuracy(baseTop1);
    }

    /** The key the ranking orders by: {@code drop} for one case, {@code accuracy_drop} for several. */
    public String rankedBy() {
        return singleCase() ? "drop" : "accuracy_drop";
    }

    /** What ablating one unit did to the targets, against the unablated model. */
    public interface Effect {
        double prob();

        double logprob();

        double drop();

        double logprobDrop();

        double accuracy();

        double accuracyDrop();
    }

    boolean singleCase() {
        return caseSteps.cases() == 1;
    }
}
