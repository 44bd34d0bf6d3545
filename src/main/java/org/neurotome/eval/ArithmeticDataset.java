package org.neurotome.eval;

import org.neurotome.eval.PaperPrompts.ArithmeticTemplate;
import org.neurotome.eval.PaperPrompts.Operation;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The arithmetic evaluation set (P1 §3.2, App. A; docs/method.md A6): for every operation and digit
 * count a set of operand pairs, each asked in all four templates so that templates compare on
 * the same problems.
 * <ul>
 *   <li>1D: every allowed pair when there are at most {@value #ONE_DIGIT_CAP} (division: 32),
 *       otherwise {@value #ONE_DIGIT_CAP} distinct pairs drawn with the data-set seed;</li>
 *   <li>2D: the {@value #TWO_DIGIT_COUNT} held-out pairs of each operation, which the fixture
 *       corpus never trains on; they are drawn with the fixed {@link #HELD_OUT_SEED}, so they do
 *       not move with the data-set seed;</li>
 *   <li>3D: {@value #THREE_DIGIT_COUNT} distinct pairs drawn with the data-set seed.</li>
 * </ul>
 * Draws follow {@link ArithmeticProblem#sample}; pairs are listed by n1 then n2.
 */
public final class ArithmeticDataset {
    public static final int ONE_DIGIT_CAP = 40;
    public static final int TWO_DIGIT_COUNT = 25;
    public static final int THREE_DIGIT_COUNT = 10;
    /** Seed of the held-out 2D pairs; fixed because trained fixture models depend on it. */
    public static final long HELD_OUT_SEED = 1L;

    private static final Map<Operation, List<ArithmeticProblem>> HELD_OUT = drawHeldOut();

    private ArithmeticDataset() {
    }

    /** Every case of {@code arithmetic.jsonl}: digits 1, 2, 3; then operation; then template; then pair. */
    public static List<EvalCase> cases(long seed) {
        Random random = new Random(seed);
        List<EvalCase> cases = new ArrayList<>();
        for (int digits : ArithmeticProblem.DIGIT_COUNTS) {
            for (Operation op : Operation.values()) {
                List<ArithmeticProblem> problems = switch (digits) {
                    case 1 -> oneDigit(op, random);
                    case 2 -> heldOutPairs(op);
                    default -> distinct(op, 3, THREE_DIGIT_COUNT, random);
                };
                for (ArithmeticTemplate template : ArithmeticTemplate.values()) {
                    problems.forEach(p -> cases.add(p.toCase(template)));
                }
            }
        }
        return cases;
    }

    /** The 2D pairs of {@code op} that are evaluated and never trained on, ordered by n1 then n2. */
    public static List<ArithmeticProblem> heldOutPairs(Operation op) {
        return HELD_OUT.get(op);
    }

    /** Whether the fixture corpus must leave this problem out. */
    public static boolean isHeldOut(ArithmeticProblem problem) {
        return problem.digits() == 2 && HELD_OUT.get(problem.op()).contains(problem);
    }

    /** The held-out 2D cases: every held-out pair in every template (the 2D part of {@link #cases}). */
    public static List<EvalCase> heldOutCases() {
        List<EvalCase> cases = new ArrayList<>();
        for (Operation op : Operation.values()) {
            for (ArithmeticTemplate template : ArithmeticTemplate.values()) {
                heldOutPairs(op).forEach(p -> cases.add(p.toCase(template)));
            }
        }
        return cases;
    }

    private static List<ArithmeticProblem> oneDigit(Operation op, Random random) {
        List<ArithmeticProblem> all = ArithmeticProblem.all(op, 1);
        return all.size() <= ONE_DIGIT_CAP ? all : distinct(op, 1, ONE_DIGIT_CAP, random);
    }

    private static Map<Operation, List<ArithmeticProblem>> drawHeldOut() {
        Random random = new Random(HELD_OUT_SEED);
        Map<Operation, List<ArithmeticProblem>> heldOut = new EnumMap<>(Operation.class);
        for (Operation op : Operation.values()) {
            heldOut.put(op, distinct(op, 2, TWO_DIGIT_COUNT, random));
        }
        return heldOut;
    }

    private static List<ArithmeticProblem> distinct(Operation op, int digits, int count, Random random) {
        Set<ArithmeticProblem> drawn = new LinkedHashSet<>();
        while (drawn.size() < count) {
            drawn.add(ArithmeticProblem.sample(op, digits, random));
        }
        return drawn.stream()
                .sorted(Comparator.comparingInt(ArithmeticProblem::n1).thenComparingInt(ArithmeticProblem::n2))
                .toList();
    }
}
