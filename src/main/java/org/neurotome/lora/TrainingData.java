package org.neurotome.lora;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.Sha256;
import org.neurotome.eval.EvalCase;
import org.neurotome.eval.EvalCaseFile;
import org.neurotome.eval.LabelFilter;
import org.neurotome.training.FixtureCorpus;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Function;

/**
 * What a LoRA trains on: the cases of an eval data set ({@code {"prompt", "target"}} JSONL,
 * docs/method.md A6), with the loss on the target tokens only (the prompt is context), or the
 * fixture corpus ({@link FixtureCorpus}): {@code standard}, its endless sentences of every kind
 * with the loss on every next token of {@code <s> … </s>}, or {@code arithmetic}, its endless
 * arithmetic problems (never a held-out pair) as prompt and answer, with the loss on the
 * answer's tokens.
 */
public sealed interface TrainingData {
    /** The corpus mixes that can be named. */
    List<String> CORPORA = List.of("standard", "arithmetic");

    /** One training row: its token ids, and the first position whose token is predicted (and scored). */
    record Example(int[] ids, int firstTarget) {
    }

    /** Rows drawn batch by batch. */
    interface Batches {
        List<Example> next(int size);
    }

    /** Rows drawn with {@code seed}; {@code encode} turns text into ids (BOS included), {@code eos} ends a corpus row. */
    Batches batches(Function<String, int[]> encode, int eos, long seed);

    /** What the data were, for the training log and the manifest; {@code recorded} writes a path. */
    ObjectNode describe(Function<Path, String> recorded);

    /** {@link #describe(Function)} with paths as given. */
    default ObjectNode describe() {
        return describe(Path::toString);
    }

    /**
     * The cases of {@code file} that pass {@code where}, the first {@code limit} of them (null:
     * all), visited in a fresh seeded order each epoch.
     */
    record Cases(Path file, LabelFilter where, Integer limit) implements TrainingData {
        public Cases {
            where = where == null ? LabelFilter.ALL : where;
        }

        public List<EvalCase> cases() {
            List<EvalCase> kept = new ArrayList<>();
            for (EvalCase c : EvalCaseFile.read(file)) {
                if (where.matches(c) && (limit == null || kept.size() < limit)) {
                    kept.add(c);
                }
            }
            if (kept.isEmpty()) {
                throw NeurotomeException.badInput(file + ": no case to train on" + (where.labels().isEmpty() ? ""
                        : " where " + where));
            }
            return kept;
        }

        @Override
        public Batches batches(Function<String, int[]> encode, int eos, long seed) {
            List<Example> all = new ArrayList<>();
            for (EvalCase c : cases()) {
                int[] ids = encode.apply(c.text());
                int prompt = encode.apply(c.prompt()).length;
                if (prompt >= ids.length) {
                    throw NeurotomeException.badInput(file + ": case '" + c.prompt() + "' has no target tokens");
                }
                all.add(new Example(ids, prompt));
            }
            Random random = new Random(seed);
            return new Batches() {
                private final List<Example> order = new ArrayList<>(all);
                private int at = order.size();

                @Override
                public List<Example> next(int size) {
                    List<Example> batch = new ArrayList<>(size);
                    while (batch.size() < size) {
                        if (at == order.size()) {
                            Collections.shuffle(order, random);
                            at = 0;
                        }
                        batch.add(order.get(at++));
                    }
                    return batch;
                }
            };
        }

        @Override
        public ObjectNode describe(Function<Path, String> recorded) {
            ObjectNode o = Json.MAPPER.createObjectNode().put("kind", "dataset").put("path", recorded.apply(file));
            try {
                o.put("sha256", Sha256.hex(file));
            } catch (IOException e) {
                throw NeurotomeException.badInput("cannot read data set " + file + ": " + e.getMessage());
            }
            ObjectNode w = o.putObject("where");
            where.labels().forEach((k, v) -> w.put(k, String.join("|", v)));
            if (limit == null) {
                o.putNull("limit");
            } else {
                o.put("limit", limit);
            }
            o.put("loss", "target tokens");
            return o;
        }
    }

    /** The fixture corpus: {@code standard} (every kind of sentence) or {@code arithmetic} (its arithmetic problems). */
    record Corpus(String mix) implements TrainingData {
        public Corpus {
            if (!CORPORA.contains(mix)) {
                throw NeurotomeException.badInput("corpus '" + mix + "' is not known; allowed: " + String.join(", ", CORPORA));
            }
        }

        private FixtureCorpus.Settings settings() {
            FixtureCorpus.Settings s = FixtureCorpus.Settings.fixtures();
            return mix.equals("standard") ? s : new FixtureCorpus.Settings(new FixtureCorpus.Mix(1, 0, 0, 0, 0),
                    s.operations(), s.stereotypeRate(), s.oneDigitShare());
        }

        @Override
        public Batches batches(Function<String, int[]> encode, int eos, long seed) {
            if (mix.equals("arithmetic")) {
                Iterator<EvalCase> cases = new FixtureCorpus(settings()).arithmeticCases(seed).iterator();
                return size -> {
                    List<Example> batch = new ArrayList<>(size);
                    for (int i = 0; i < size; i++) {
                        EvalCase c = cases.next();
                        batch.add(new Example(encode.apply(c.text()), encode.apply(c.prompt()).length));
                    }
                    return batch;
                };
            }
            Iterator<String> sentences = new FixtureCorpus(settings()).stream(seed).iterator();
            return size -> {
                List<Example> batch = new ArrayList<>(size);
                for (int i = 0; i < size; i++) {
                    int[] ids = encode.apply(sentences.next());
                    int[] row = Arrays.copyOf(ids, ids.length + 1);
                    row[ids.length] = eos;
                    batch.add(new Example(row, 1));
                }
                return batch;
            };
        }

        @Override
        public ObjectNode describe(Function<Path, String> recorded) {
            FixtureCorpus.Settings s = settings();
            ObjectNode o = Json.MAPPER.createObjectNode().put("kind", "corpus").put("mix", mix);
            o.set("settings", Json.MAPPER.valueToTree(s));
            o.put("loss", mix.equals("arithmetic") ? "answer tokens" : "every next token");
            return o;
        }

        @Override
        public String toString() {
            return "the " + mix.toLowerCase(Locale.ROOT) + " fixture corpus";
        }
    }
}
