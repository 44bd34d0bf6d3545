package org.neurotome.cna;

import org.neurotome.NeurotomeException;
import org.neurotome.Sha256;
import org.neurotome.eval.EvalCase;
import org.neurotome.model.LanguageModel;
import org.neurotome.model.TextTokenizer;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.function.Function;
import java.util.SequencedMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The prompts an analysis runs on, as token ids: one prompt (text or ids) or the cases of a
 * data set. Each case is scored at one or more <em>steps</em>, one per target token,
 * teacher-forced on the earlier target tokens (docs/method.md A6: every answer token is a separate
 * next-token case). A case without a target is scored at one step against the model's own
 * top-1 prediction (docs/method.md A2).
 */
public final class PromptSet {
    /**
     * One prompt.
     *
     * @param text   the prompt text, or null for raw ids
     * @param prompt the prompt's ids (with BOS when the tokenizer adds one)
     * @param target the expected continuation's ids; empty for the model's own top-1
     * @param labels the data set's labels (empty for a single prompt)
     */
    public record Case(String text, int[] prompt, int[] target, SequencedMap<String, Object> labels) {
        public Case {
            if (prompt.length == 0) {
                throw NeurotomeException.badInput("a prompt needs at least one token");
            }
            prompt = prompt.clone();
            target = target.clone();
            labels = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(labels));
        }

        /** How the case reads in a table: its text, or its ids. */
        public String describe() {
            return text != null ? text : Arrays.toString(prompt);
        }
    }

    /**
     * One scored next-token prediction.
     *
     * @param caseIndex the case it belongs to
     * @param context   the ids the model reads (prompt plus the earlier target tokens)
     * @param target    the token scored, or −1 for the model's own top-1
     */
    public record Step(int caseIndex, int[] context, int target) {
    }

    private final List<Case> cases;
    private final List<Step> steps;

    private PromptSet(List<Case> cases) {
        if (cases.isEmpty()) {
            throw NeurotomeException.badInput("nothing to analyse: no prompt or an empty data set");
        }
        this.cases = List.copyOf(cases);
        List<Step> s = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            if (c.target().length == 0) {
                s.add(new Step(i, c.prompt(), -1));
            }
            for (int j = 0; j < c.target().length; j++) {
                int[] context = Arrays.copyOf(c.prompt(), c.prompt().length + j);
                System.arraycopy(c.target(), 0, context, c.prompt().length, j);
                s.add(new Step(i, context, c.target()[j]));
            }
        }
        this.steps = List.copyOf(s);
    }

    /** The given cases. */
    public static PromptSet of(List<Case> cases) {
        return new PromptSet(cases);
    }

    /** Raw ids, scored against {@code target} ids (empty: the model's top-1). */
    public static PromptSet ofIds(int[] ids, int[] target) {
        return new PromptSet(List.of(new Case(null, ids, target, new LinkedHashMap<>())));
    }

    /** Several prompts of raw ids, each scored against the model's own top-1. */
    public static PromptSet ofIds(List<int[]> prompts) {
        return new PromptSet(prompts.stream().map(p -> new Case(null, p, new int[0], new LinkedHashMap<>())).toList());
    }

    /**
     * Text through the model's tokenizer; {@code target}, when not null, is the continuation
     * text whose tokens are scored (tokenized together with the prompt, as data sets are).
     */
    public static PromptSet ofText(LanguageModel model, String text, String target) {
        if (target == null) {
            return new PromptSet(List.of(new Case(text, model.encode(text), new int[0], new LinkedHashMap<>())));
        }
        int[][] split = split(model::encode, text, target, "--target '" + target + "' after '" + text + "'");
        return new PromptSet(List.of(new Case(text, split[0], split[1], new LinkedHashMap<>())));
    }

    /** The cases of a data set, each scored on its target's tokens; {@code where} names the file for errors. */
    public static PromptSet ofCases(LanguageModel model, List<EvalCase> cases, String where) {
        if (model.tokenizer().isEmpty()) {
            throw NeurotomeException.badInput(model.dir() + " has no " + TextTokenizer.FILE + "; a data set ("
                    + where + ") needs the model's tokenizer");
        }
        return ofCases(model::encode, cases, where);
    }

    /** As {@link #ofCases(LanguageModel, List, String)}, with {@code encoder} as the model's tokenizer. */
    public static PromptSet ofCases(Function<String, int[]> encoder, List<EvalCase> cases, String where) {
        List<Case> out = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            EvalCase c = cases.get(i);
            int[][] split = split(encoder, c.prompt(), c.target(), where + " case " + (i + 1) + " ('" + c.prompt() + "')");
            out.add(new Case(c.prompt(), split[0], split[1], c.labels()));
        }
        return new PromptSet(out);
    }

    /** The ids of {@code prompt}, and of {@code target} as it follows the prompt. */
    private static int[][] split(Function<String, int[]> encoder, String prompt, String target, String what) {
        int[] p = encoder.apply(prompt);
        int[] full = encoder.apply(prompt + target);
        if (full.length <= p.length || !Arrays.equals(p, Arrays.copyOf(full, p.length))) {
            throw NeurotomeException.badInput(what + ": the tokens of the prompt are not a prefix of the tokens of"
                    + " prompt + target (" + Arrays.toString(p) + " vs " + Arrays.toString(full)
                    + "), so the target tokens cannot be scored teacher-forced");
        }
        return new int[][] {p, Arrays.copyOfRange(full, p.length, full.length)};
    }

    /**
     * The same cases and targets with other prompt ids (case i reads {@code prompts.get(i)}):
     * side B of a contrast, scored on side A's targets.
     */
    public PromptSet withPrompts(List<int[]> prompts, List<String> texts) {
        if (prompts.size() != cases.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts for " + cases.size() + " cases");
        }
        List<Case> out = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            out.add(new Case(texts.get(i), prompts.get(i), c.target(), c.labels()));
        }
        return new PromptSet(out);
    }

    /**
     * Every case with the whole word {@code word} replaced by {@code replacement} in its
     * prompt (the second prompt of a one-word contrast, docs/method.md A4), keeping the targets.
     * A case without the word, or given as ids, is a BAD_INPUT error.
     */
    public PromptSet swapWord(LanguageModel model, String word, String replacement) {
        Pattern p = Pattern.compile("\\b" + Pattern.quote(word) + "\\b");
        List<int[]> prompts = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            if (c.text() == null) {
                throw NeurotomeException.badInput("--swap needs prompts given as text, not ids");
            }
            Matcher m = p.matcher(c.text());
            if (!m.find()) {
                throw NeurotomeException.badInput("--swap " + word + "=" + replacement + ": case " + (i + 1) + " ('"
                        + c.text() + "') does not contain the word '" + word + "'");
            }
            String swapped = m.replaceAll(Matcher.quoteReplacement(replacement));
            texts.add(swapped);
            prompts.add(model.encode(swapped));
        }
        return withPrompts(prompts, texts);
    }

    /**
     * The SHA-256 of the cases' prompt and target ids, in order: what the scores of an analysis
     * depend on, so the shards of one analysis ({@link HeadScanShard}) name their prompts by it.
     */
    public String digest() {
        MessageDigest d = Sha256.digest();
        ByteBuffer b = ByteBuffer.allocate(4);
        for (Case c : cases) {
            for (int[] ids : new int[][] {c.prompt(), c.target()}) {
                d.update(b.clear().putInt(ids.length).array());
                for (int id : ids) {
                    d.update(b.clear().putInt(id).array());
                }
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }

    public List<Case> cases() {
        return cases;
    }

    public List<Step> steps() {
        return steps;
    }

    /** The longest context of any step. */
    public int maxContext() {
        return steps.stream().mapToInt(s -> s.context().length).max().orElseThrow();
    }
}
