package org.neurotome.recipe;

import org.neurotome.yaml.SchemaViolation;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks how a recipe's steps refer to each other. Steps run in order — every locate step,
 * then every select step, then the edits — and a reference must name an earlier step of a
 * compatible kind: a select's {@code from} names a locate step; {@code ${id}} in an edit's
 * {@code heads}/{@code neurons} or a CNA step's {@code ablate} names a step yielding that kind,
 * in an edit's {@code experts} a select of experts (an expert analysis ranks all of them).
 * Ids are unique across locate and select. A select whose kind is implied by its locate step
 * gets it filled in.
 */
final class References {
    private record Step(String id, String where, int order, Set<ComponentKind> yields, Locate locate) {
    }

    private final Map<String, Step> steps = new LinkedHashMap<>();

    private References() {
    }

    /** Validates every reference; returns the selects with their kinds filled in. */
    static List<Select> check(List<Locate> locates, List<Select> selects, List<Edit> edits, LoraTraining recover) {
        References r = new References();
        for (int i = 0; i < locates.size(); i++) {
            Locate l = locates.get(i);
            r.define(new Step(l.id(), "locate." + i, i, l.yields(), l), "locate", i);
        }
        List<Select> resolved = new ArrayList<>();
        for (int j = 0; j < selects.size(); j++) {
            Select s = r.resolveKind(selects.get(j), j);
            resolved.add(s);
            r.define(new Step(s.id(), "select." + j, locates.size() + j, Set.of(s.kind()), null), "select", j);
        }
        for (int i = 0; i < locates.size(); i++) {
            if (locates.get(i) instanceof Locate.Cna cna && cna.ablate() instanceof Reference ref) {
                r.resolve(ref, i, ComponentKind.HEADS, "locate", i, "ablate");
            }
        }
        for (int k = 0; k < edits.size(); k++) {
            switch (edits.get(k)) {
                case Edit.ZeroHeads e -> r.heads(e.heads(), k);
                case Edit.KeepHeads e -> r.heads(e.heads(), k);
                case Edit.ZeroNeurons e -> r.neurons(e.neurons(), k);
                case Edit.ScaleNeurons e -> r.neurons(e.neurons(), k);
                case Edit.KeepNeurons e -> r.neurons(e.neurons(), k);
                case Edit.ZeroExperts e -> r.experts(e.experts(), k);
                case Edit.PruneExperts e -> r.experts(e.experts(), k);
                case Edit.Compact e -> {
                    // compact acts on what earlier edits zeroed; it names nothing
                }
                case Edit.MergeLora e -> {
                    // names an adapter directory
                }
            }
        }
        if (recover != null && recover.layers() instanceof Reference ref) {
            r.scanLayer(ref);
        }
        return resolved;
    }

    private void define(Step step, String section, int index) {
        Step first = steps.putIfAbsent(step.id(), step);
        if (first != null) {
            throw SchemaViolation.of("duplicate id").at(section, index, "id").got(step.id())
                    .allowed("an id not used by " + first.where() + " (ids are shared by locate and select)");
        }
    }

    private Select resolveKind(Select s, int j) {
        Step source = steps.get(s.from());
        if (source == null || source.locate() == null) {
            List<String> locateIds = steps.values().stream().filter(x -> x.locate() != null).map(Step::id).toList();
            SchemaViolation v = SchemaViolation.of("unknown locate step").at("select", j, "from").got(s.from());
            throw locateIds.isEmpty() ? v.allowed("none: the recipe has no locate step")
                    : v.allowedWords(s.from(), locateIds);
        }
        Locate l = source.locate();
        String what = source.where() + " (" + describe(l) + ")";
        ComponentKind kind = s.kind();
        if (kind == null) {
            if (l.yields().size() != 1) {
                throw SchemaViolation.missingKey("kind", what + " yields heads and neurons").at("select", j)
                        .allowed("heads, neurons");
            }
            kind = l.yields().iterator().next();
        } else if (!l.yields().contains(kind)) {
            throw SchemaViolation.of("invalid kind").at("select", j, "kind").got(kind.yamlName())
                    .allowed(names(l.yields()) + " (what " + what + " yields)");
        }
        if (kind == ComponentKind.EXPERTS) {
            expertFilters(s, j);
        } else if (s.lowest() != null) {
            throw SchemaViolation.of("lowest chooses experts per sparse layer").at("select", j, "lowest").got(s.lowest())
                    .allowed("top or threshold for " + kind.yamlName() + ", or select from an expert analysis");
        }
        if (s.perCase() && l instanceof Locate.HeadScan) {
            throw SchemaViolation.of("per_case needs per-case scores; a head-scan ranks heads over all cases")
                    .at("select", j, "per_case").got(true).allowed("false, or select from attribution or cna");
        }
        if (l instanceof Locate.Analysis a && a.top() > 0 && s.top() != null && s.top() > a.top()) {
            throw SchemaViolation.of("select keeps more than its locate step finds").at("select", j, "top")
                    .got(s.top()).allowed("at most " + a.top() + " (" + source.where() + ".top; 0 there keeps all)");
        }
        return s.withKind(kind);
    }

    /**
     * An experts select chooses the same number from every sparse layer ({@code lowest}); a top
     * or threshold over all layers would leave the layers different counts, which prune-experts
     * cannot write.
     */
    private static void expertFilters(Select s, int j) {
        String allowed = "lowest: N (the N lowest-ranked experts of every sparse layer) and layers";
        if (s.top() != null) {
            throw SchemaViolation.of("experts are chosen per sparse layer, not by a top over all layers")
                    .at("select", j, "top").got(s.top()).allowed(allowed);
        }
        if (s.threshold() != null) {
            throw SchemaViolation.of("experts are chosen per sparse layer, not by a threshold")
                    .at("select", j, "threshold").got(s.threshold()).allowed(allowed);
        }
        if (s.perCase()) {
            throw SchemaViolation.of("experts are chosen over all cases").at("select", j, "per_case").got(true)
                    .allowed(allowed);
        }
        if (s.lowest() == null) {
            throw SchemaViolation.missingKey("lowest", "the number of experts chosen in every sparse layer, the"
                    + " lowest-ranked").at("select", j);
        }
    }

    /** Checks that {@code ${id}} in an edit's experts names an earlier select of experts. */
    private void experts(ExpertSet experts, int k) {
        if (!(experts instanceof Reference ref)) {
            return;
        }
        resolve(ref, Integer.MAX_VALUE, ComponentKind.EXPERTS, "edit", k, "experts");
        Step target = steps.get(ref.id());
        if (target.locate() != null) {
            List<String> selects = steps.values().stream()
                    .filter(x -> x.locate() == null && x.yields().contains(ComponentKind.EXPERTS)).map(Step::id).toList();
            SchemaViolation v = SchemaViolation.of("experts are taken from a select step").at("edit", k, "experts")
                    .gotText("'" + ref + "' (" + target.where() + ", which ranks every expert)");
            throw selects.isEmpty() ? v.allowed("${id} of a select with from: " + ref.id() + " and lowest: N")
                    : v.allowedWords(null, selects);
        }
    }

    private void heads(HeadSet heads, int k) {
        if (heads instanceof Reference ref) {
            resolve(ref, Integer.MAX_VALUE, ComponentKind.HEADS, "edit", k, "heads");
        }
    }

    private void neurons(NeuronSet neurons, int k) {
        if (neurons instanceof Reference ref) {
            resolve(ref, Integer.MAX_VALUE, ComponentKind.NEURONS, "edit", k, "neurons");
        }
    }

    /** Checks that {@code ref}, as recover's {@code layers}, names a lora-scan step (whose best layer it means). */
    private void scanLayer(Reference ref) {
        List<String> scans = steps.values().stream().filter(s -> s.locate() instanceof Locate.LoraScan).map(Step::id)
                .toList();
        Step target = steps.get(ref.id());
        if (target != null && target.locate() instanceof Locate.LoraScan) {
            return;
        }
        SchemaViolation v = SchemaViolation.of(target == null ? "unknown reference" : "reference of the wrong kind")
                .at("recover", "layers").gotText("'" + ref + "'" + (target == null ? "" : " (" + target.where()
                        + " is not a lora-scan, whose best layer ${id} would mean)"));
        throw scans.isEmpty() ? v.allowed("layers such as 9, 2-5, 17-, or ${id} of a lora-scan step (the recipe has none)")
                : v.allowedWords(target == null ? ref.id() : null, scans);
    }

    /** Checks that {@code ref}, used by the step at {@code order}, names an earlier step yielding {@code kind}. */
    private void resolve(Reference ref, int order, ComponentKind kind, Object... path) {
        List<String> fitting = steps.values().stream()
                .filter(s -> s.order() < order && s.yields().contains(kind)).map(Step::id).toList();
        Step target = steps.get(ref.id());
        SchemaViolation v;
        if (target == null) {
            v = SchemaViolation.of("unknown reference").got(ref.toString());
        } else if (target.order() >= order) {
            v = SchemaViolation.of("forward reference").gotText("'" + ref + "' (" + target.where()
                    + ", which runs later: steps run locate, then select, then edit, each in list order)");
        } else if (!target.yields().contains(kind)) {
            v = SchemaViolation.of("reference of the wrong kind").gotText("'" + ref + "' (" + target.where()
                    + " yields " + names(target.yields()) + ", not " + kind.yamlName() + ")");
        } else {
            return;
        }
        v.at(path);
        if (fitting.isEmpty()) {
            throw v.allowed("none: no earlier step yields " + kind.yamlName());
        }
        throw v.allowedWords(target == null ? ref.id() : null, fitting);
    }

    private static String describe(Locate l) {
        return l instanceof Locate.Analysis a ? a.method() : "findings from " + ((Locate.FindingsFile) l).from();
    }

    private static String names(Set<ComponentKind> kinds) {
        return String.join(", ", kinds.stream().sorted().map(ComponentKind::yamlName).toList());
    }
}
