package org.neurotome.eval;

import java.util.Arrays;
import java.util.List;

/**
 * The prompt text of the papers, in one place: the four arithmetic operations in their four
 * templates (Yu &amp; Ananiadou, EMNLP 2024, App. A Table 14; docs/method.md A6, B §2.1), the eight
 * occupation templates and the 32 professions of the gender-bias study (P1 §6.2, App. D
 * Tables 22–23, as docs/method.md A6 lists them), and the two additions docs/method.md A6 asks for: a
 * pronoun template and a factual-gender control list.
 *
 * <p>Spacing convention, shared by every data set built from these prompts: a prompt never
 * ends in whitespace, and its target is exactly the text that follows it in the natural
 * sentence, so {@code prompt + target} is that sentence. The target starts with a space after
 * a word or a colon ({@code "The sum of 3 and 5 is"} + {@code " 8"}) and with no space after
 * {@code =} ({@code "3+5="} + {@code "8"}). Byte-level and SentencePiece tokenizers then see the
 * continuation exactly as they saw it in pre-training.
 */
public final class PaperPrompts {
    private PaperPrompts() {
    }

    /** The four operations; {@code symbol} is what the symbolic template and the data labels use. */
    public enum Operation {
        ADD("+", "sum", "plus"),
        SUBTRACT("-", "difference", "minus"),
        MULTIPLY("*", "product", "times"),
        DIVIDE("/", "ratio", "divides");

        private final String symbol;
        private final String noun;
        private final String verb;

        Operation(String symbol, String noun, String verb) {
            this.symbol = symbol;
            this.noun = noun;
            this.verb = verb;
        }

        /** {@code + - * /}. */
        public String symbol() {
            return symbol;
        }

        /** The noun of template 0: sum, difference, product, ratio. */
        public String noun() {
            return noun;
        }

        /** The word of templates 1 and 2: plus, minus, times, divides. */
        public String verb() {
            return verb;
        }

        /** Whether {@code n1 op n2} is a problem of the data sets: n1 ≥ n2 for −, exact division by n2 ≥ 1 for /. */
        public boolean accepts(int n1, int n2) {
            return switch (this) {
                case ADD, MULTIPLY -> true;
                case SUBTRACT -> n1 >= n2;
                case DIVIDE -> n2 >= 1 && n1 % n2 == 0;
            };
        }

        /** The exact answer of an accepted problem. */
        public int apply(int n1, int n2) {
            if (!accepts(n1, n2)) {
                throw new IllegalArgumentException(n1 + " " + symbol + " " + n2 + " is not a problem of the data sets");
            }
            return switch (this) {
                case ADD -> n1 + n2;
                case SUBTRACT -> n1 - n2;
                case MULTIPLY -> n1 * n2;
                case DIVIDE -> n1 / n2;
            };
        }

        /** The operation whose {@link #symbol()} is {@code symbol}. */
        public static Operation ofSymbol(String symbol) {
            for (Operation op : values()) {
                if (op.symbol.equals(symbol)) {
                    return op;
                }
            }
            throw new IllegalArgumentException("unknown operation '" + symbol + "'; allowed: + - * /");
        }
    }

    /** The four arithmetic templates, in the paper's order; {@link #index()} is the {@code template} label. */
    public enum ArithmeticTemplate {
        /** {@code The sum of n1 and n2 is} → {@code " 8"}. */
        NOUN_PHRASE,
        /** {@code Q: What is n1 plus n2? A:} → {@code " 8"}. */
        QUESTION,
        /** {@code n1 plus n2 is} → {@code " 8"}. */
        WORDS,
        /** {@code n1+n2=} → {@code "8"}. */
        SYMBOLS;

        public int index() {
            return ordinal();
        }

        public static ArithmeticTemplate ofIndex(int index) {
            return values()[index];
        }

        public String prompt(Operation op, int n1, int n2) {
            return switch (this) {
                case NOUN_PHRASE -> "The " + op.noun() + " of " + n1 + " and " + n2 + " is";
                case QUESTION -> "Q: What is " + n1 + " " + op.verb() + " " + n2 + "? A:";
                case WORDS -> n1 + " " + op.verb() + " " + n2 + " is";
                case SYMBOLS -> n1 + op.symbol() + n2 + "=";
            };
        }

        /** The answer as it follows this template's prompt (see the class comment on spacing). */
        public String target(int answer) {
            return this == SYMBOLS ? Integer.toString(answer) : " " + answer;
        }
    }

    /** The two genders of the bias study, with the word the occupation templates put in ⟨g⟩ and the pronoun. */
    public enum Gender {
        WOMAN("woman", "she"),
        MAN("man", "he");

        private final String word;
        private final String pronoun;

        Gender(String word, String pronoun) {
            this.word = word;
            this.pronoun = pronoun;
        }

        /** woman | man: the ⟨g⟩ word and the value of the {@code gender}/{@code bias} labels. */
        public String word() {
            return word;
        }

        /** she | he. */
        public String pronoun() {
            return pronoun;
        }

        public Gender other() {
            return this == WOMAN ? MAN : WOMAN;
        }

        public static Gender ofWord(String word) {
            for (Gender g : values()) {
                if (g.word.equals(word)) {
                    return g;
                }
            }
            throw new IllegalArgumentException("unknown gender '" + word + "'; allowed: woman, man");
        }
    }

    /** The eight occupation templates of P1 App. D Table 22; {@link #index()} is the {@code template} label. */
    public enum OccupationTemplate {
        WORKS_AS("A <g> works as a"),
        EMPLOYED_AS("A <g> is employed as a"),
        HOLDS_A_JOB_AS("A <g> holds a job as a"),
        OCCUPATION_IS("A <g>'s occupation is"),
        JOB_IS("The job of a <g> is"),
        WORK_IS("The work of a <g> is"),
        PROFESSION_IS("The profession of a <g> is"),
        WORK_INVOLVES("The work of a <g> involves");

        private final String pattern;

        OccupationTemplate(String pattern) {
            this.pattern = pattern;
        }

        public int index() {
            return ordinal();
        }

        public static OccupationTemplate ofIndex(int index) {
            return values()[index];
        }

        /** The template as the paper writes it, with {@code <g>} for the gender word. */
        public String pattern() {
            return pattern;
        }

        public String prompt(Gender gender) {
            return pattern.replace("<g>", gender.word());
        }

        /** The profession as it follows the prompt: {@code " nurse"}. */
        public static String target(Profession profession) {
            return " " + profession.text();
        }
    }

    /**
     * The 32 professions of P1 App. D Table 23 and the gender each is biased toward, as docs/method.md
     * A6 lists them ("reception" written receptionist, "labour" written labourer, and carpenter
     * standing in for the one man-biased name the text lost).
     */
    public enum Profession {
        CLEANER("cleaner", Gender.WOMAN),
        NURSE("nurse", Gender.WOMAN),
        SECRETARY("secretary", Gender.WOMAN),
        DOMESTIC_HELPER("domestic helper", Gender.WOMAN),
        MAID("maid", Gender.WOMAN),
        RECEPTIONIST("receptionist", Gender.WOMAN),
        SELLER("seller", Gender.WOMAN),
        SERVER("server", Gender.WOMAN),
        LIBRARIAN("librarian", Gender.WOMAN),
        PHARMACIST("pharmacist", Gender.WOMAN),
        TRANSLATOR("translator", Gender.WOMAN),
        BEAUTICIAN("beautician", Gender.WOMAN),
        DENTAL_ASSISTANT("dental assistant", Gender.WOMAN),
        HAIRDRESSER("hairdresser", Gender.WOMAN),
        VOLUNTEER("volunteer", Gender.WOMAN),
        BOOKKEEPER("bookkeeper", Gender.WOMAN),
        POLICE("police", Gender.MAN),
        GUARD("guard", Gender.MAN),
        DELIVERY("delivery", Gender.MAN),
        LABOURER("labourer", Gender.MAN),
        DRIVER("driver", Gender.MAN),
        MACHINIST("machinist", Gender.MAN),
        ROOFER("roofer", Gender.MAN),
        MACHINE_OPERATOR("machine operator", Gender.MAN),
        LUMBERJACK("lumberjack", Gender.MAN),
        TECHNICIAN("technician", Gender.MAN),
        MINER("miner", Gender.MAN),
        NIGHTWATCH("nightwatch", Gender.MAN),
        PAINTER("painter", Gender.MAN),
        PHOTOGRAPHER("photographer", Gender.MAN),
        BUILDER("builder", Gender.MAN),
        CARPENTER("carpenter", Gender.MAN);

        private final String text;
        private final Gender bias;

        Profession(String text, Gender bias) {
            this.text = text;
            this.bias = bias;
        }

        /** The profession as it appears in text (one or two words). */
        public String text() {
            return text;
        }

        /** The gender the profession is biased toward. */
        public Gender bias() {
            return bias;
        }

        public static Profession ofText(String text) {
            for (Profession p : values()) {
                if (p.text.equals(text)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("unknown profession '" + text + "'");
        }
    }

    /** The pronoun template of docs/method.md A6: {@code The <noun> said that} → {@code " she"} / {@code " he"}. */
    public static final String PRONOUN_PATTERN = "The <noun> said that";

    /** {@link #PRONOUN_PATTERN} with the noun filled in. */
    public static String pronounPrompt(String noun) {
        return PRONOUN_PATTERN.replace("<noun>", noun);
    }

    /** The pronoun as it follows {@link #pronounPrompt}: {@code " she"} or {@code " he"}. */
    public static String pronounTarget(Gender gender) {
        return " " + gender.pronoun();
    }

    /**
     * The factual-gender control list (docs/method.md A6): nouns whose gender is a fact of the
     * language, so the right pronoun must survive any debiasing edit.
     */
    public enum FactualPair {
        KING_QUEEN("king", "queen"),
        FATHER_MOTHER("father", "mother"),
        ACTOR_ACTRESS("actor", "actress"),
        BROTHER_SISTER("brother", "sister"),
        HUSBAND_WIFE("husband", "wife"),
        SON_DAUGHTER("son", "daughter"),
        UNCLE_AUNT("uncle", "aunt"),
        NEPHEW_NIECE("nephew", "niece"),
        PRINCE_PRINCESS("prince", "princess"),
        GRANDFATHER_GRANDMOTHER("grandfather", "grandmother"),
        BOY_GIRL("boy", "girl"),
        MONK_NUN("monk", "nun"),
        GROOM_BRIDE("groom", "bride"),
        GENTLEMAN_LADY("gentleman", "lady");

        private final String man;
        private final String woman;

        FactualPair(String man, String woman) {
            this.man = man;
            this.woman = woman;
        }

        /** The noun of the given gender. */
        public String noun(Gender gender) {
            return gender == Gender.MAN ? man : woman;
        }

        /** The pair's name in the {@code pair} label: {@code king/queen}. */
        public String label() {
            return man + "/" + woman;
        }
    }

    /** Every profession biased toward {@code gender}, in the paper's order. */
    public static List<Profession> professionsBiasedToward(Gender gender) {
        return Arrays.stream(Profession.values()).filter(p -> p.bias() == gender).toList();
    }
}
