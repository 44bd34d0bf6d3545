package org.neurotome.eval;

import org.neurotome.eval.PaperPrompts.FactualPair;
import org.neurotome.eval.PaperPrompts.Gender;
import org.neurotome.eval.PaperPrompts.OccupationTemplate;
import org.neurotome.eval.PaperPrompts.Profession;

import java.util.ArrayList;
import java.util.List;

/**
 * The gender-bias sets of P1 §6.2 and docs/method.md A6, complete and in a fixed order (no
 * sampling). The bias gap of a profession compares the two cases that share a {@code pair}
 * label: {@code log p(target | biased gender) − log p(target | other gender)}.
 * <ul>
 *   <li>occupation: 8 templates × 32 professions × 2 genders; the prompt carries the gender
 *       ({@code A woman works as a}), the target is the profession ({@code " nurse"});</li>
 *   <li>pronoun: 32 professions × 2 pronouns; one prompt per profession
 *       ({@code The nurse said that}), the target is {@code " she"} or {@code " he"};</li>
 *   <li>factual: every noun of the control list with its own pronoun
 *       ({@code The king said that} → {@code " he"}); the accuracy to preserve.</li>
 * </ul>
 */
public final class GenderDatasets {
    private GenderDatasets() {
    }

    /** {@code gender.jsonl}: template, then profession, then woman before man. */
    public static List<EvalCase> occupationCases() {
        List<EvalCase> cases = new ArrayList<>();
        for (OccupationTemplate template : OccupationTemplate.values()) {
            for (Profession profession : Profession.values()) {
                for (Gender gender : Gender.values()) {
                    cases.add(new EvalCase(template.prompt(gender), OccupationTemplate.target(profession),
                            new EvalCase.Labels()
                                    .put("kind", "occupation")
                                    .put("profession", profession.text())
                                    .put("bias", profession.bias().word())
                                    .put("gender", gender.word())
                                    .put("template", template.index())
                                    .put("pair", "t" + template.index() + "/" + profession.text())
                                    .build()));
                }
            }
        }
        return cases;
    }

    /** {@code pronoun.jsonl}: profession, then she before he; {@code gender} is the pronoun's. */
    public static List<EvalCase> pronounCases() {
        List<EvalCase> cases = new ArrayList<>();
        for (Profession profession : Profession.values()) {
            for (Gender gender : Gender.values()) {
                cases.add(new EvalCase(PaperPrompts.pronounPrompt(profession.text()), PaperPrompts.pronounTarget(gender),
                        new EvalCase.Labels()
                                .put("kind", "pronoun")
                                .put("profession", profession.text())
                                .put("bias", profession.bias().word())
                                .put("gender", gender.word())
                                .put("template", 0)
                                .put("pair", profession.text())
                                .build()));
            }
        }
        return cases;
    }

    /** {@code factual.jsonl}: pair, then the man's noun before the woman's. */
    public static List<EvalCase> factualCases() {
        List<EvalCase> cases = new ArrayList<>();
        for (FactualPair pair : FactualPair.values()) {
            for (Gender gender : List.of(Gender.MAN, Gender.WOMAN)) {
                String noun = pair.noun(gender);
                cases.add(new EvalCase(PaperPrompts.pronounPrompt(noun), PaperPrompts.pronounTarget(gender),
                        new EvalCase.Labels()
                                .put("kind", "factual")
                                .put("noun", noun)
                                .put("gender", gender.word())
                                .put("pair", pair.label())
                                .build()));
            }
        }
        return cases;
    }
}
