package org.neurotome.cna;

import java.util.ArrayList;
import java.util.List;

/**
 * The steps of each case of a {@link PromptSet}, and the per-case summaries a scan reports over
 * them: a case's probability is the product of its steps' (teacher-forced) probabilities, and
 * it is correct when every step's top-1 is its target; accuracies are in percent
 * (docs/method.md A6).
 */
final class CaseSteps {
    private final int[][] steps;

    CaseSteps(PromptSet prompts) {
        List<List<Integer>> byCase = new ArrayList<>();
        for (int i = 0; i < prompts.cases().size(); i++) {
            byCase.add(new ArrayList<>());
        }
        for (int s = 0; s < prompts.steps().size(); s++) {
            byCase.get(prompts.steps().get(s).caseIndex()).add(s);
        }
        this.steps = byCase.stream().map(l -> l.stream().mapToInt(Integer::intValue).toArray()).toArray(int[][]::new);
    }

    int cases() {
        return steps.length;
    }

    /** The steps of case {@code caseIndex}, in order. */
    int[] of(int caseIndex) {
        return steps[caseIndex];
    }

    /** Whether every step of case {@code caseIndex} hit. */
    boolean correct(boolean[] hit, int caseIndex) {
        for (int s : steps[caseIndex]) {
            if (!hit[s]) {
                return false;
            }
        }
        return true;
    }

    /** Percent of all cases correct. */
    double accuracy(boolean[] hit) {
        int ok = 0;
        for (int i = 0; i < steps.length; i++) {
            ok += correct(hit, i) ? 1 : 0;
        }
        return 100.0 * ok / steps.length;
    }

    /** Percent of {@code cases} correct. */
    double accuracy(boolean[] hit, List<Integer> cases) {
        int ok = 0;
        for (int i : cases) {
            ok += correct(hit, i) ? 1 : 0;
        }
        return 100.0 * ok / cases.size();
    }

    /** Mean over the cases of a case's log-probability, the sum of its steps'. */
    double meanLogprob(float[] lp) {
        double sum = 0;
        for (int[] caseSteps : steps) {
            for (int s : caseSteps) {
                sum += lp[s];
            }
        }
        return sum / steps.length;
    }

    /** Mean over the cases of a case's probability, the product of its steps'. */
    double meanProb(float[] lp) {
        double sum = 0;
        for (int[] caseSteps : steps) {
            double caseLp = 0;
            for (int s : caseSteps) {
                caseLp += lp[s];
            }
            sum += Math.exp(caseLp);
        }
        return sum / steps.length;
    }
}
