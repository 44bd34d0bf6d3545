package org.neurotome.eval;

import org.neurotome.eval.PaperPrompts.ArithmeticTemplate;
import org.neurotome.eval.PaperPrompts.Operation;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One arithmetic problem {@code n1 op n2} of the data sets (docs/method.md A6): both operands have
 * the same number of digits (1D 0–9, 2D 10–99, 3D 100–999), subtraction has n1 ≥ n2 and
 * division is exact (n1 = n2·q with n2 ≥ 1).
 */
public record ArithmeticProblem(Operation op, int n1, int n2) {

    /** The digit counts the data sets use. */
    public static final List<Integer> DIGIT_COUNTS = List.of(1, 2, 3);

    public ArithmeticProblem {
        if (digitsOf(n1) != digitsOf(n2)) {
            throw new IllegalArgumentException("operands " + n1 + " and " + n2 + " differ in digit count");
        }
        if (!op.accepts(n1, n2)) {
            throw new IllegalArgumentException(n1 + " " + op.symbol() + " " + n2
                    + " is not allowed: subtraction needs n1 >= n2, division n2 >= 1 and no remainder");
        }
    }

    /** The digit count of both operands. */
    public int digits() {
        return digitsOf(n1);
    }

    public int answer() {
        return op.apply(n1, n2);
    }

    /** The case of this problem in one template, with the labels of {@code arithmetic.jsonl}. */
    public EvalCase toCase(ArithmeticTemplate template) {
        return new EvalCase(template.prompt(op, n1, n2), template.target(answer()), new EvalCase.Labels()
                .put("kind", "arithmetic")
                .put("operation", op.symbol())
                .put("template", template.index())
                .put("digits", digits())
                .put("n1", n1)
                .put("n2", n2)
                .build());
    }

    /** The smallest operand with {@code digits} digits (0 for one digit). */
    public static int lowest(int digits) {
        checkDigits(digits);
        return digits == 1 ? 0 : (int) Math.pow(10, digits - 1);
    }

    /** The largest operand with {@code digits} digits. */
    public static int highest(int digits) {
        checkDigits(digits);
        return (int) Math.pow(10, digits) - 1;
    }

    /** Every problem of {@code op} with {@code digits}-digit operands, ordered by n1 then n2. */
    public static List<ArithmeticProblem> all(Operation op, int digits) {
        List<ArithmeticProblem> problems = new ArrayList<>();
        for (int n1 = lowest(digits); n1 <= highest(digits); n1++) {
            for (int n2 = lowest(digits); n2 <= highest(digits); n2++) {
                if (op.accepts(n1, n2)) {
                    problems.add(new ArithmeticProblem(op, n1, n2));
                }
            }
        }
        return problems;
    }

    /**
     * Draws one problem. For + − * every allowed operand pair is equally likely. For / the
     * quotient is drawn first, uniformly among those that some allowed pair reaches, then the
     * divisor uniformly: drawing pairs uniformly would make n1 = n2 (quotient 1) about half of
     * all 2D and 3D divisions.
     */
    public static ArithmeticProblem sample(Operation op, int digits, Random random) {
        int lo = lowest(digits);
        int hi = highest(digits);
        return switch (op) {
            case ADD, MULTIPLY -> new ArithmeticProblem(op, between(lo, hi, random), between(lo, hi, random));
            case SUBTRACT -> {
                int a;
                int b;
                do {
                    a = between(lo, hi, random);
                    b = between(lo, hi, random);
                } while (a < b);
                yield new ArithmeticProblem(op, a, b);
            }
            case DIVIDE -> {
                List<Integer> quotients = new ArrayList<>();
                // q ≤ 9: n1 = n2·q has as many digits as n2
                for (int q = 0; q <= 9; q++) {
                    if (lowestDivisor(digits) <= highestDivisor(digits, q)) {
                        quotients.add(q);
                    }
                }
                int q = quotients.get(random.nextInt(quotients.size()));
                int divisor = between(lowestDivisor(digits), highestDivisor(digits, q), random);
                yield new ArithmeticProblem(op, divisor * q, divisor);
            }
        };
    }

    /** The smallest divisor: n2 ≥ 1 and in range (then n2·q ≥ n2 is in range too for q ≥ 1). */
    private static int lowestDivisor(int digits) {
        return Math.max(lowest(digits), 1);
    }

    /** The largest divisor n2 with n2·q in range; below the smallest when no pair reaches q. */
    private static int highestDivisor(int digits, int q) {
        if (q == 0) {
            return lowest(digits) == 0 ? highest(digits) : 0;
        }
        return highest(digits) / q;
    }

    private static int between(int lo, int hi, Random random) {
        return lo + random.nextInt(hi - lo + 1);
    }

    private static int digitsOf(int n) {
        if (n < 0 || n > 999) {
            throw new IllegalArgumentException("operand " + n + " is outside 0..999");
        }
        return n < 10 ? 1 : n < 100 ? 2 : 3;
    }

    private static void checkDigits(int digits) {
        if (!DIGIT_COUNTS.contains(digits)) {
            throw new IllegalArgumentException("digit count " + digits + " is not one of " + DIGIT_COUNTS);
        }
    }
}
