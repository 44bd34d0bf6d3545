package org.neurotome.recipe;

import org.neurotome.arch.LayerRange;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.eval.LabelFilter;
import org.neurotome.yaml.DiscriminatedDeserializer;
import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@code locate} step: produces named findings — ranked heads and/or neurons — either by
 * running an analysis (docs/method.md A2–A4, chosen by {@code method}) or by reading a findings JSON
 * file written by an earlier run ({@code from}). Later steps refer to it by {@link #id()}.
 */
public sealed interface Locate permits Locate.Analysis, Locate.FindingsFile {
    /** How many ranked entries an analysis keeps when {@code top} is not given; 0 keeps all. */
    int DEFAULT_TOP = 100;

    /** The name later steps use: {@code from: <id>} in a select, {@code ${id}} in an edit. */
    String id();

    /**
     * The kinds of findings this step can yield: the expert analyses rank experts, which a
     * select takes per sparse layer; a findings file's kinds are known only when it is read.
     */
    default Set<ComponentKind> yields() {
        return switch (this) {
            case HeadScan h -> EnumSet.of(ComponentKind.HEADS);
            case Attribution a -> EnumSet.of(ComponentKind.HEADS, ComponentKind.NEURONS);
            case Cna c -> EnumSet.of(ComponentKind.NEURONS);
            case LoraScan l -> EnumSet.of(ComponentKind.NEURONS);
            case ExpertScan e -> EnumSet.of(ComponentKind.EXPERTS);
            case ExpertAttribution e -> EnumSet.of(ComponentKind.EXPERTS);
            case ExpertUsage e -> EnumSet.of(ComponentKind.EXPERTS);
            case FindingsFile f -> EnumSet.of(ComponentKind.HEADS, ComponentKind.NEURONS);
        };
    }

    /** The analyses by {@code method} name, in the order messages list them. */
    static Map<String, Class<? extends Locate>> methods() {
        Map<String, Class<? extends Locate>> m = new LinkedHashMap<>();
        m.put("head-scan", HeadScan.class);
        m.put("attribution", Attribution.class);
        m.put("cna", Cna.class);
        m.put("lora-scan", LoraScan.class);
        m.put("expert-scan", ExpertScan.class);
        m.put("expert-attribution", ExpertAttribution.class);
        m.put("expert-usage", ExpertUsage.class);
        return Collections.unmodifiableMap(m);
    }

    /** An analysis run on the recipe's model; its inputs, target, layers and top are common. */
    sealed interface Analysis extends Locate permits HeadScan, Attribution, Cna, LoraScan, ExpertScan,
            ExpertAttribution, ExpertUsage {
        List<String> prompts();

        List<List<Integer>> tokenIds();

        Path dataset();

        LabelFilter where();

        Integer limit();

        /** Target token texts, each scored on every prompt; empty = the model's own top-1 prediction. */
        List<String> target();

        /** The layers analysed; null = all. */
        LayerRange layers();

        /** How many ranked entries the findings keep (per case when a select asks for per_case); 0 = all. */
        Integer top();

        /**
         * How the ranked lists are found: with a {@code top}, by bounds that leave only a few
         * components to score exactly, unless {@code exhaustive: true} asks for every one scored
         * (the lists are the same); a head scan ablates every head either way.
         */
        default org.neurotome.cna.Scoring scoring() {
            boolean all = switch (this) {
                case Attribution at -> at.exhaustive();
                case Cna c -> c.exhaustive();
                case LoraScan ls -> ls.exhaustive();
                case HeadScan h -> true;
                case ExpertScan e -> true;
                case ExpertAttribution e -> true;
                case ExpertUsage e -> true;
            };
            return org.neurotome.cna.Scoring.of(top(), layers(), all);
        }

        /** The one input form given: prompts, token ids or dataset cases. */
        default AnalysisInput input() {
            return AnalysisInput.of(prompts(), tokenIds(), dataset(), where(), limit());
        }

        /** How many shards the analysis runs in ({@code shards}; 1 where the method has no such key). */
        default Integer shards() {
            return 1;
        }

        /** The method name as written in a recipe. */
        default String method() {
            return methods().entrySet().stream().filter(e -> e.getValue() == getClass())
                    .findFirst().orElseThrow().getKey();
        }
    }

    /**
     * {@code method: head-scan} (docs/method.md A3): ablate each head in turn and rank heads by the drop in
     * target probability (prompts) or accuracy (dataset). Yields heads.
     */
    record HeadScan(String id, List<String> prompts, List<List<Integer>> tokenIds, Path dataset, LabelFilter where,
                    Integer limit, @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> target,
                    LayerRange layers, Integer top, Integer shards) implements Analysis {
        public HeadScan {
            checkInput(id, prompts, tokenIds, dataset, where, limit);
            target = checkTarget(target, dataset);
            top = checkTop(top);
            shards = checkShards(shards);
        }
    }

    /**
     * {@code method: attribution} (docs/method.md A2): the log-probability increase of every FFN neuron and
     * every head for the target. Yields heads and neurons (a select picks one with {@code kind}).
     */
    record Attribution(String id, List<String> prompts, List<List<Integer>> tokenIds, Path dataset, LabelFilter where,
                       Integer limit,
                       @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> target,
                       LayerRange layers, Integer top, Boolean exhaustive, Integer shards) implements Analysis {
        public Attribution {
            checkInput(id, prompts, tokenIds, dataset, where, limit);
            target = checkTarget(target, dataset);
            top = checkTop(top);
            exhaustive = exhaustive != null && exhaustive;
            shards = checkShards(shards);
            if (shards > 1 && !exhaustive && top > 0) {
                throw SchemaViolation.of("an attribution in shards scores every neuron and head; a bounded search "
                        + "for the top " + top + " ranks over all prompts at once").at("shards").got(shards)
                        .allowed("shards together with 'exhaustive: true' or 'top: 0'");
            }
        }
    }

    /**
     * {@code method: cna} (docs/method.md A4): Imp_A − Imp_B for every FFN neuron, B being exactly one of:
     * the model with heads ablated ({@code ablate}), another checkpoint ({@code against}), the
     * model with a LoRA adapter on its weights ({@code against_adapter}, P1 §5), or the model on
     * contrast prompts ({@code contrast}, one per prompt). Yields neurons.
     */
    record Cna(String id, List<String> prompts, List<List<Integer>> tokenIds, Path dataset, LabelFilter where,
               Integer limit, @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> target,
               LayerRange layers, Integer top, HeadSet ablate, Path against, Path againstAdapter,
               @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> contrast,
               Boolean exhaustive)
            implements Analysis {
        public Cna {
            AnalysisInput input = checkInput(id, prompts, tokenIds, dataset, where, limit);
            target = checkTarget(target, dataset);
            top = checkTop(top);
            exhaustive = exhaustive != null && exhaustive;
            SchemaViolation.requireOneOf("comparison", "'ablate' (heads), 'against' (a checkpoint), "
                            + "'against_adapter' (a LoRA adapter) or 'contrast' (prompts)",
                    List.of("ablate", "against", "against_adapter", "contrast"), ablate, against, againstAdapter, contrast);
            if (contrast != null) {
                if (!(input instanceof AnalysisInput.Prompts p)) {
                    throw SchemaViolation.of("'contrast' pairs each prompt with another; this step has no prompts")
                            .at("contrast").allowed("contrast together with prompts");
                }
                AnalysisInput.requireItems(contrast, "contrast");
                if (contrast.size() != p.prompts().size()) {
                    throw SchemaViolation.of("contrast prompts do not pair with prompts").at("contrast")
                            .gotText(contrast.size() + " contrast prompts for " + p.prompts().size() + " prompts")
                            .allowed("one contrast prompt per prompt");
                }
                contrast = List.copyOf(contrast);
            }
        }

        /** Run B of the comparison. */
        public CnaComparison comparison() {
            if (ablate != null) {
                return new CnaComparison.AblatedHeads(ablate);
            }
            if (againstAdapter != null) {
                return new CnaComparison.WithAdapter(againstAdapter);
            }
            return against != null ? new CnaComparison.OtherCheckpoint(against)
                    : new CnaComparison.ContrastPrompts(contrast);
        }
    }

    /**
     * {@code method: lora-scan} (P1 §5): one LoRA per layer of {@code scan} (default: every
     * layer), each trained as {@code train} says on that layer alone; each one's accuracy on the
     * {@code score} cases against the model's own; then CNA between the model (A) and the model
     * with the LoRA that gained most (B) on the step's own cases. Yields neurons (the CNA
     * ranking); {@code ${id}} in a LoRA's {@code layers} means the best layer. {@code shards}
     * splits the scanned layers into that many runs of consecutive layers.
     */
    record LoraScan(String id, List<String> prompts, List<List<Integer>> tokenIds, Path dataset, LabelFilter where,
                    Integer limit,
                    @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> target,
                    LayerRange layers, Integer top, LayerRange scan, LoraTraining train, ScoreSet score,
                    Boolean exhaustive, Integer shards)
            implements Analysis {
        public LoraScan {
            checkInput(id, prompts, tokenIds, dataset, where, limit);
            target = checkTarget(target, dataset);
            top = checkTop(top);
            exhaustive = exhaustive != null && exhaustive;
            shards = checkShards(shards);
            if (train == null) {
                throw SchemaViolation.missingKey("train", "how each layer's LoRA is trained: corpus or dataset, "
                        + "target_modules, rank, alpha, steps, ...");
            }
            if (train.layers() != null) {
                throw SchemaViolation.of("a lora-scan chooses each LoRA's layer itself").at("train", "layers")
                        .allowed("the layers to try as 'scan'");
            }
            if (score == null) {
                throw SchemaViolation.missingKey("score", "the cases each LoRA's accuracy is measured on: dataset, where, limit");
            }
        }
    }

    /**
     * {@code method: expert-scan} (a mixture of experts; docs/findings.md): remove each expert of
     * each sparse layer from its routing in turn and rank the experts by the drop in target
     * probability (prompts) or accuracy (dataset). Yields experts.
     */
    record ExpertScan(String id, List<String> prompts, List<List<Integer>> tokenIds, Path dataset, LabelFilter where,
                      Integer limit,
                      @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> target,
                      LayerRange layers, Integer top) implements Analysis {
        public ExpertScan {
            checkInput(id, prompts, tokenIds, dataset, where, limit);
            target = checkTarget(target, dataset);
            top = checkTop(top);
        }
    }

    /**
     * {@code method: expert-attribution} (a mixture of experts): the log-probability increase of
     * every routed expert's weighted output for the target. Yields experts.
     */
    record ExpertAttribution(String id, List<String> prompts, List<List<Integer>> tokenIds, Path dataset,
                             LabelFilter where, Integer limit,
                             @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> target,
                             LayerRange layers, Integer top) implements Analysis {
        public ExpertAttribution {
            checkInput(id, prompts, tokenIds, dataset, where, limit);
            target = checkTarget(target, dataset);
            top = checkTop(top);
        }
    }

    /**
     * {@code method: expert-usage} (a mixture of experts): selection count, frequency, mean
     * routing weight and REAP saliency of every expert over every position of the inputs. Ranks
     * experts by saliency; yields experts.
     */
    record ExpertUsage(String id, List<String> prompts, List<List<Integer>> tokenIds, Path dataset, LabelFilter where,
                       Integer limit, LayerRange layers, Integer top) implements Analysis {
        public ExpertUsage {
            checkInput(id, prompts, tokenIds, dataset, where, limit);
            top = checkTop(top);
        }

        @Override
        public List<String> target() {
            return List.of();
        }
    }

    /**
     * The cases a lora-scan measures accuracy on (every target token top-1, teacher-forced).
     *
     * @param dataset JSONL cases (docs/method.md A6)
     * @param where   label filter
     * @param limit   at most this many cases
     */
    record ScoreSet(Path dataset, LabelFilter where, Integer limit) {
        public ScoreSet {
            if (dataset == null) {
                throw SchemaViolation.missingKey("dataset", "a JSONL file of cases");
            }
            where = where == null ? LabelFilter.ALL : where;
            if (limit != null && limit < 1) {
                throw SchemaViolation.of("invalid value").at("limit").got(limit).allowed("a whole number >= 1");
            }
        }
    }

    /**
     * {@code from: findings.json}: findings an earlier {@code neurotome locate --json} run wrote,
     * so one analysis can drive several recipes. Which kinds it holds is known only when read.
     */
    record FindingsFile(String id, Path from) implements Locate {
        public FindingsFile {
            requireId(id);
            if (from == null) {
                throw SchemaViolation.missingKey("from", "the findings JSON file");
            }
        }
    }

    /** Binds a locate step by its {@code method}, or as a {@link FindingsFile} when it has only {@code from}. */
    final class Deserializer extends DiscriminatedDeserializer<Locate> {
        Deserializer() {
            super(Locate.class, "method", methods(), "method");
        }

        @Override
        protected Class<? extends Locate> withoutDiscriminator(ObjectNode node) {
            if (node.has("from")) {
                return FindingsFile.class;
            }
            throw SchemaViolation.of("missing required key 'method' (the analysis to run) or 'from' "
                    + "(a findings JSON file)").aboutMapping().allowedWords(null, names());
        }
    }

    private static void requireId(String id) {
        if (id == null) {
            throw SchemaViolation.missingKey("id", "the name later steps refer to");
        }
        if (!Reference.ID.matcher(id).matches()) {
            throw SchemaViolation.of("invalid id").at("id").got(id)
                    .allowed("a letter or '_', then letters, digits, '_' or '-'");
        }
    }

    /** Checks the id and input keys every analysis step has; returns the one input form given. */
    private static AnalysisInput checkInput(String id, List<String> prompts, List<List<Integer>> tokenIds, Path dataset,
                                            LabelFilter where, Integer limit) {
        requireId(id);
        return AnalysisInput.of(prompts, tokenIds, dataset, where, limit);
    }

    private static List<String> checkTarget(List<String> target, Path dataset) {
        if (target == null) {
            return List.of();
        }
        if (dataset != null) {
            throw SchemaViolation.of("'target' is not used with a dataset; each case carries its own target")
                    .at("target").allowed("target together with prompts or token_ids");
        }
        AnalysisInput.requireItems(target, "target");
        return List.copyOf(target);
    }

    /** {@code shards}: 1 when not given. */
    private static Integer checkShards(Integer shards) {
        if (shards == null) {
            return 1;
        }
        if (shards < 1) {
            throw SchemaViolation.of("invalid value").at("shards").got(shards)
                    .allowed("a whole number >= 1 (the analysis split into that many units of whole batches)");
        }
        return shards;
    }

    private static Integer checkTop(Integer top) {
        if (top == null) {
            return DEFAULT_TOP;
        }
        if (top < 0) {
            throw SchemaViolation.of("invalid value").at("top").got(top).allowed("a whole number >= 0 (0 keeps all)");
        }
        return top;
    }
}
