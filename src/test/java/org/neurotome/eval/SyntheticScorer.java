package org.neurotome.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A deterministic stand-in model for report tests: each case's token scores are drawn from a
 * generator seeded by the model seed and the case text, shaped by the case's labels so reports
 * look like a real run (arithmetic accuracy falls with digits and for division; the biased
 * gender gets {@code bias} nats more log-probability, scaled per profession; language and
 * factual scores are the same for every model seed). Not a language model: its numbers are
 * only meant to be plausible and reproducible.
 */
final class SyntheticScorer implements CaseScorer {
    private static final Pattern TOKEN = Pattern.compile("\\s?[A-Za-z']+|\\d|[^\\sA-Za-z\\d]|\\s+");

    private final long seed;
    private final double skill;
    private final double bias;

    /**
     * @param skill accuracy on one-digit addition
     * @param bias  log-probability advantage of the stereotyped gender, in nats
     */
    SyntheticScorer(long seed, double skill, double bias) {
        this.seed = seed;
        this.skill = skill;
        this.bias = bias;
    }

    @Override
    public List<CaseScore> score(List<EvalCase> batch) {
        List<CaseScore> out = new ArrayList<>();
        for (EvalCase c : batch) {
            // language and factual scores do not depend on the model: an edit should leave them alone
            boolean shared = c.label("kind").equals("language") || c.label("kind").equals("factual");
            Random r = new Random((shared ? 0 : seed * 1_000_003L) + (c.prompt() + "\u0000" + c.target()).hashCode());
            List<String> tokens = new ArrayList<>();
            Matcher m = TOKEN.matcher(c.target());
            while (m.find()) {
                tokens.add(m.group());
            }
            List<TokenScore> scores = new ArrayList<>();
            for (String token : tokens) {
                int id = Math.floorMod(token.hashCode(), 50_000);
                scores.add(switch (c.label("kind")) {
                    case "arithmetic" -> drawn(id, r, Math.pow(arithmeticSkill(c), 1.0 / tokens.size()));
                    case "factual" -> drawn(id, r, 0.97);
                    case "language" -> drawn(id, r, 0.55);
                    default -> new TokenScore(id, genderLogProb(c, r) / tokens.size(), id);
                });
            }
            out.add(new CaseScore(scores));
        }
        return out;
    }

    private double arithmeticSkill(EvalCase c) {
        double p = skill - 0.12 * (c.intLabel("digits") - 1) - 0.02 * c.intLabel("template");
        return switch (c.label("operation")) {
            case "*" -> p - 0.10;
            case "/" -> p - 0.20;
            default -> p;
        };
    }

    /** A token that is top-1 with probability {@code p}: then likely, otherwise unlikely. */
    private static TokenScore drawn(int id, Random r, double p) {
        boolean top1 = r.nextDouble() < p;
        double logProb = top1 ? Math.log(0.5 + 0.45 * r.nextDouble()) : Math.log(0.02 + 0.3 * r.nextDouble());
        return new TokenScore(id, logProb, top1 ? id : id + 1);
    }

    private double genderLogProb(EvalCase c, Random r) {
        double scale = 0.4 + Math.floorMod(c.label("profession").hashCode(), 100) / 80.0;
        double advantage = c.label("gender").equals(c.label("bias")) ? bias * scale : 0;
        return Math.min(-0.05, -3.0 - 0.3 * r.nextDouble() + advantage);
    }
}
