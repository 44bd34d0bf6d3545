package org.neurotome.recipe;

import org.junit.jupiter.api.Test;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** One test per class of recipe error: the exact message (position, bad value, allowed values) and exit code 2. */
class RecipeErrorsTest {
    static final Path INVALID = Path.of("src/test/resources/recipes/invalid");
    static final Path FULL = Path.of("src/test/resources/recipes/full.yaml");

    private static String loadError(String name) {
        return error(INVALID.resolve(name), Map.of());
    }

    private static String error(Path file, Map<String, String> overrides) {
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> RecipeLoader.load(file, overrides));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        return e.getMessage();
    }

    @Test
    void unknownKeySuggestsTheClosestKey() {
        assertEquals(INVALID.resolve("unknown-key.yaml") + ":8:3: unknown key in output; got 'dtyp'; "
                + "allowed: dir, dtype, max_shard_size, archive; did you mean 'dtype'?", loadError("unknown-key.yaml"));
    }

    @Test
    void wrongTypeNamesTheExpectedType() {
        assertEquals(INVALID.resolve("wrong-type.yaml") + ":7:10: wrong type at locate.0.top; got 'ten'; "
                + "allowed: a whole number", loadError("wrong-type.yaml"));
    }

    @Test
    void unknownReferenceListsEarlierStepsOfTheRightKind() {
        assertEquals(INVALID.resolve("unknown-reference.yaml") + ":13:12: unknown reference at edit.0.heads; "
                + "got '${arith_head}'; allowed: scan, arith_heads; did you mean 'arith_heads'?",
                loadError("unknown-reference.yaml"));
    }

    @Test
    void forwardReferenceSaysWhereTheStepIsDefined() {
        assertEquals(INVALID.resolve("forward-reference.yaml") + ":10:13: forward reference at locate.1.ablate; "
                + "got '${top_heads}' (select.0, which runs later: steps run locate, then select, then edit, "
                + "each in list order); allowed: scan", loadError("forward-reference.yaml"));
    }

    @Test
    void referenceToNeuronsWhereHeadsAreNeededIsAnError() {
        assertEquals(INVALID.resolve("wrong-kind-reference.yaml") + ":10:12: reference of the wrong kind at "
                + "edit.0.heads; got '${bias}' (locate.0 yields neurons, not heads); "
                + "allowed: none: no earlier step yields heads", loadError("wrong-kind-reference.yaml"));
    }

    @Test
    void missingRequiredKeyIsPositionedAtItsMapping() {
        assertEquals(INVALID.resolve("missing-key.yaml") + ":4:5: missing required key 'factor' (the number each "
                + "neuron's output is multiplied by) in edit.0 (op: scale-neurons)", loadError("missing-key.yaml"));
    }

    @Test
    void misspeltRequiredKeyIsReportedAsUnknownNotMissing() {
        assertEquals(INVALID.resolve("misspelt-required-key.yaml") + ":6:5: unknown key in edit.0 "
                + "(op: scale-neurons); got 'factr'; allowed: op, neurons, factor; did you mean 'factor'?",
                loadError("misspelt-required-key.yaml"));
    }

    @Test
    void analysisWithoutAnInput() {
        assertEquals(INVALID.resolve("missing-input.yaml") + ":4:5: missing input: one of 'prompts', 'token_ids' "
                + "or 'dataset' in locate.0 (id: bias)", loadError("missing-input.yaml"));
    }

    @Test
    void locateStepWithoutMethodOrFrom() {
        assertEquals(INVALID.resolve("missing-method.yaml") + ":4:5: missing required key 'method' (the analysis "
                + "to run) or 'from' (a findings JSON file) in locate.0 (id: scan); "
                + "allowed: head-scan, attribution, cna, lora-scan, expert-scan, expert-attribution, expert-usage",
                loadError("missing-method.yaml"));
    }

    @Test
    void missingFindingsFileNamesTheResolvedPath() {
        assertEquals(INVALID.resolve("missing-findings-file.yaml") + ":5:11: missing file at locate.0.from; "
                + "got 'src/test/resources/findings/no-such-findings.json'", loadError("missing-findings-file.yaml"));
    }

    @Test
    void missingDatasetNamesTheResolvedPath() {
        assertEquals(INVALID.resolve("missing-dataset.yaml") + ":6:14: missing file at locate.0.dataset; "
                + "got 'src/test/resources/datasets/no-such-dataset.jsonl'", loadError("missing-dataset.yaml"));
    }

    @Test
    void missingModelDirectory() {
        assertEquals(INVALID.resolve("missing-model.yaml") + ":2:9: missing directory at model.path; "
                + "got 'src/test/resources/reference/no-such-model'", loadError("missing-model.yaml"));
    }

    @Test
    void parseLeavesMissingFilesForLoadToReport() {
        RecipeLoader.parse(INVALID.resolve("missing-dataset.yaml"), Map.of());
        RecipeLoader.parse(INVALID.resolve("missing-findings-file.yaml"), Map.of());
        RecipeLoader.parse(INVALID.resolve("missing-model.yaml"), Map.of());
    }

    @Test
    void unknownEditOpListsEveryOp() {
        assertEquals(INVALID.resolve("unknown-op.yaml") + ":6:9: unknown edit op at edit.1.op; got 'zero-neuron'; "
                + "allowed: zero-heads, keep-heads, zero-neurons, scale-neurons, keep-neurons, zero-experts, prune-experts, compact, merge-lora; "
                + "did you mean 'zero-neurons'?", loadError("unknown-op.yaml"));
    }

    @Test
    void unknownMethodListsEveryMethod() {
        assertEquals(INVALID.resolve("unknown-method.yaml") + ":5:13: unknown method at locate.0.method; "
                + "got 'head_scan'; allowed: head-scan, attribution, cna, lora-scan, expert-scan, expert-attribution, "
                + "expert-usage; did you mean 'head-scan'?",
                loadError("unknown-method.yaml"));
    }

    @Test
    void parameterOfAnotherOpIsAnUnknownKeyForThisOne() {
        assertEquals(INVALID.resolve("param-not-for-op.yaml") + ":6:5: unknown key in edit.0 (op: zero-heads); "
                + "got 'factor'; allowed: op, heads", loadError("param-not-for-op.yaml"));
    }

    @Test
    void parameterOfAnotherMethodIsAnUnknownKeyForThisOne() {
        assertEquals(INVALID.resolve("param-not-for-method.yaml") + ":7:5: unknown key in locate.0 (id: scan); "
                + "got 'ablate'; allowed: id, method, prompts, token_ids, dataset, where, limit, target, layers, top, shards",
                loadError("param-not-for-method.yaml"));
    }

    @Test
    void badEnumValueSuggestsTheRightSpelling() {
        assertEquals(INVALID.resolve("bad-enum.yaml") + ":8:10: invalid value at output.dtype; got 'f16'; "
                + "allowed: keep, F32, F16, BF16; did you mean 'F16'?", loadError("bad-enum.yaml"));
    }

    @Test
    void duplicateKeyPointsAtTheSecondOne() {
        assertEquals(INVALID.resolve("duplicate-key.yaml") + ":8:1: duplicate key at the top level; "
                + "got 'model' again (first at line 1)", loadError("duplicate-key.yaml"));
    }

    @Test
    void duplicateIdAcrossLocateAndSelect() {
        assertEquals(INVALID.resolve("duplicate-id.yaml") + ":8:9: duplicate id at select.0.id; got 'scan'; "
                + "allowed: an id not used by locate.0 (ids are shared by locate and select)",
                loadError("duplicate-id.yaml"));
    }

    @Test
    void badHeadLiteralIsPositionedAtItsListItem() {
        assertEquals(INVALID.resolve("bad-head.yaml") + ":5:20: invalid head at edit.0.heads.1; got 17; "
                + "allowed: layer.head (e.g. 17.22), a [layer, head] pair, {layer: L, head: K}, a list of those, or a ${reference}",
                loadError("bad-head.yaml"));
    }

    @Test
    void yamlSyntaxError() {
        assertEquals(INVALID.resolve("syntax-error.yaml") + ":6:7: YAML syntax error: expected ',' or ']', "
                + "but got : (while parsing a flow sequence at line 5, column 12)", loadError("syntax-error.yaml"));
    }

    @Test
    void selectFromAnAnalysisYieldingBothKindsMustSayWhichKind() {
        assertEquals(INVALID.resolve("select-kind-missing.yaml") + ":8:5: missing required key 'kind' "
                + "(locate.0 (attribution) yields heads and neurons) in select.0 (id: heads); allowed: heads, neurons",
                loadError("select-kind-missing.yaml"));
    }

    private static String runError(String name) {
        NeurotomeException e = assertThrows(NeurotomeException.class,
                () -> RecipeLoader.loadForRun(INVALID.resolve(name), Map.of()));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        return e.getMessage();
    }

    @Test
    void valuesTheModelDoesNotHaveArePositionedBeforeTheRun() {
        // stories260K: 5 layers, 8 heads, 172 FFN neurons, vocabulary 512
        assertEquals(INVALID.resolve("neuron-out-of-range.yaml") + ":5:20: no such neuron in the model at "
                + "edit.0.neurons.1; got 4.172; allowed: layers 0-4, neurons 0-171", runError("neuron-out-of-range.yaml"));
        assertEquals(INVALID.resolve("layers-out-of-range.yaml") + ":6:13: layer range past the model's last layer at "
                + "edit.0.layers; got 3-9; allowed: layers 0-4", runError("layers-out-of-range.yaml"));
        assertEquals(INVALID.resolve("token-id-out-of-range.yaml") + ":6:21: token id outside the vocabulary at "
                + "locate.0.token_ids.0.1; got 600; allowed: 0 to 511 (vocab_size 512)",
                runError("token-id-out-of-range.yaml"));
        Path data = Path.of("src/test/resources/datasets/arithmetic-mini.jsonl");
        assertEquals(INVALID.resolve("where-matches-nothing.yaml") + ":7:12: no case of " + data + " left to analyse at"
                + " locate.0.where; got where {operation=[%]}; allowed: a filter that some case matches",
                runError("where-matches-nothing.yaml"));
        assertEquals(INVALID.resolve("factor-too-large.yaml") + ":6:13: invalid value at edit.0.factor; got 1.0E39; "
                + "allowed: a finite number of magnitude at most 3.4028235E38 (float32)", loadError("factor-too-large.yaml"));
    }

    @Test
    void keepHeadsListingAHeadOutsideItsLayersIsRefused() {
        assertEquals(INVALID.resolve("keep-heads-outside-layers.yaml") + ":5:18: head outside the kept layers 3-4 (it"
                + " would not be kept, and every head of those layers would be zeroed) at edit.0.heads.1; got 1.2;"
                + " allowed: heads in layers 3-4", loadError("keep-heads-outside-layers.yaml"));
    }

    @Test
    void yamlAliasesAndAnchorsAreRefusedWhereTheyStand() {
        assertEquals(INVALID.resolve("alias.yaml") + ":7:8: YAML alias '*input' at output.dir; allowed: the value"
                + " written out (anchors and aliases are not supported)", loadError("alias.yaml"));
        assertEquals(INVALID.resolve("anchor.yaml") + ":5:12: YAML anchor '&h' at edit.0.heads; allowed: the value"
                + " written out (anchors and aliases are not supported)", loadError("anchor.yaml"));
    }

    @Test
    void missingRecipeFile() {
        assertEquals("src/test/resources/recipes/none.yaml: no such file",
                error(Path.of("src/test/resources/recipes/none.yaml"), Map.of()));
    }

    @Test
    void overrideOfAKeyNotInTheSchemaNamesTheOverride() {
        assertEquals(FULL + ": --set edit.3.fctor=0.5: unknown key in edit.3 (op: scale-neurons); got 'fctor'; "
                + "allowed: op, neurons, factor; did you mean 'factor'?", error(FULL, Map.of("edit.3.fctor", "0.5")));
    }

    @Test
    void overrideOfAMissingListItem() {
        assertEquals(FULL + ": --set locate.9.top=5: no such item in locate; got '9'; "
                + "allowed: 0-5, scan, attr, arith_cna, gender_cna, tuned, saved",
                error(FULL, Map.of("locate.9.top", "5")));
    }

    @Test
    void overrideBelowAScalar() {
        assertEquals(FULL + ": --set output.dir.name=x: cannot set a key below output.dir; "
                + "it is '../out/full', not a mapping or list", error(FULL, Map.of("output.dir.name", "x")));
    }

    @Test
    void overrideValueOfTheWrongType() {
        assertEquals(FULL + ": --set locate.scan.top=many: wrong type at locate.0.top; got 'many'; "
                + "allowed: a whole number", error(FULL, Map.of("locate.scan.top", "many")));
    }

    @Test
    void overrideValueThatIsNotYaml() {
        assertEquals(FULL + ": --set edit.0.heads=[17.22: YAML syntax error: expected ',' or ']', "
                + "but got <stream end> (while parsing a flow sequence at line 1, column 1)",
                error(FULL, Map.of("edit.0.heads", "[17.22")));
    }

    @Test
    void aRecipeLargerThanTheLimitIsRefusedUnread(@org.junit.jupiter.api.io.TempDir Path tmp) throws java.io.IOException {
        Path big = tmp.resolve("big.yaml");
        // a valid document: one description far longer than any recipe needs
        java.nio.file.Files.writeString(big, "description: " + "x".repeat(20 << 20) + "\n");
        assertEquals(big + ": " + java.nio.file.Files.size(big) + " bytes; allowed: at most 1048576 bytes (1 MiB) "
                + "for a YAML document", error(big, Map.of()));
    }
}
