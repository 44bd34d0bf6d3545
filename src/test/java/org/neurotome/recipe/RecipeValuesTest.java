package org.neurotome.recipe;

import org.neurotome.arch.Head;
import org.neurotome.arch.Neuron;
import org.neurotome.arch.LayerRange;

import org.junit.jupiter.api.Test;
import org.neurotome.NeurotomeException;
import org.neurotome.yaml.SchemaViolation;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The value syntaxes of a recipe: head and neuron ids, layer ranges, sizes. */
class RecipeValuesTest {
    static final Path MINIMAL = Path.of("src/test/resources/recipes/minimal.yaml");

    private static Edit firstEdit(Map<String, String> overrides) {
        return RecipeLoader.parse(MINIMAL, overrides).edit().getFirst();
    }

    private static String error(Map<String, String> overrides) {
        return assertThrows(NeurotomeException.class, () -> RecipeLoader.parse(MINIMAL, overrides)).getMessage();
    }

    @Test
    void headsAsDecimalsTextPairsOrASingleValue() {
        assertEquals(new Edit.ZeroHeads(new HeadSet.Listed(List.of(new Head(17, 22), new Head(14, 19),
                        new Head(3, 10)))),
                firstEdit(Map.of("edit.0.heads", "[17.22, \"14.19\", [3, 10]]")));
        assertEquals(new Edit.ZeroHeads(new HeadSet.Listed(List.of(new Head(5, 0)))),
                firstEdit(Map.of("edit.0.heads", "5.0")));
        assertEquals(new Reference("x_1"), Reference.parse("${ x_1 }"));
    }

    @Test
    void neuronsAsDecimalsOrPairs() {
        Edit e = firstEdit(Map.of("edit.0", "{op: zero-neurons, neurons: [[22, 2651], 19.8436]}"));
        assertEquals(new Edit.ZeroNeurons(new NeuronSet.Listed(List.of(new Neuron(22, 2651),
                new Neuron(19, 8436)))), e);
    }

    @Test
    void malformedHeadListsSayWhy() {
        assertEquals(MINIMAL + ": --set edit.0.heads=[17, 22]: invalid head at edit.0.heads.0; got 17; "
                + "allowed: layer.head (e.g. 17.22), a [layer, head] pair, {layer: L, head: K}, a list of those, or a ${reference}",
                error(Map.of("edit.0.heads", "[17, 22]")));
        assertEquals(MINIMAL + ": --set edit.0.heads=[1.2, 1.2]: duplicate head at edit.0.heads.1; got '1.2'; "
                + "allowed: each head once", error(Map.of("edit.0.heads", "[1.2, 1.2]")));
        assertEquals(MINIMAL + ": --set edit.0.heads=[1.2, \"${x}\"]: a ${reference} must be the whole value, "
                + "not a list item at edit.0.heads.1; got '${x}'; allowed: heads: ${id}",
                error(Map.of("edit.0.heads", "[1.2, \"${x}\"]")));
        assertEquals(MINIMAL + ": --set edit.0.heads=${x: invalid reference at edit.0.heads; got '${x'; "
                + "allowed: ${id}, e.g. ${arith_heads}", error(Map.of("edit.0.heads", "${x")));
        assertEquals(MINIMAL + ": --set edit.0.heads=[]: empty list at edit.0.heads; allowed: one or more heads",
                error(Map.of("edit.0.heads", "[]")));
    }

    @Test
    void layerRanges() {
        Edit.KeepHeads closed = (Edit.KeepHeads) firstEdit(Map.of("edit.0", "{op: keep-heads, heads: 17.2, layers: 17-31}"));
        assertEquals(new LayerRange(17, 31), closed.layers());
        assertEquals("17-31", closed.layers().toString());
        Edit.KeepHeads open = (Edit.KeepHeads) firstEdit(Map.of("edit.0", "{op: keep-heads, heads: 3.2, layers: 2-}"));
        assertEquals(new LayerRange(2, null), open.layers());
        assertTrue(open.layers().contains(40));
        assertFalse(open.layers().contains(1));
        assertEquals(3, open.layers().lastFor(4));
        Edit.KeepHeads one = (Edit.KeepHeads) firstEdit(Map.of("edit.0", "{op: keep-heads, heads: 5.2, layers: 5}"));
        assertEquals(new LayerRange(5, 5), one.layers());
        assertEquals(MINIMAL + ": --set edit.0={op: keep-heads, heads: 1.2, layers: 9-3}: invalid layer range at "
                + "edit.0.layers; got 9-3; allowed: first-last (e.g. 17-31), one layer (17), or first- (17 to the "
                + "last layer), with 0 <= first <= last",
                error(Map.of("edit.0", "{op: keep-heads, heads: 1.2, layers: 9-3}")));
    }

    @Test
    void byteSizesUseDecimalAndBinaryUnits() {
        assertEquals(2_000_000_000L, ByteSize.parse("2GB").bytes());
        assertEquals(1L << 29, ByteSize.parse("0.5GiB").bytes());
        assertEquals(500_000_000L, ByteSize.parse("500 mb").bytes());
        assertEquals(1234L, ByteSize.parse("1234").bytes());
        assertEquals("2GB", ByteSize.parse("2GB").toString());
        assertEquals("536870912B", ByteSize.parse("0.5GiB").toString());
        assertThrows(SchemaViolation.class, () -> ByteSize.parse("2 gigs"));
        assertThrows(SchemaViolation.class, () -> ByteSize.parse("0KB"));
        assertEquals(MINIMAL + ": --set output.max_shard_size=lots: invalid size at output.max_shard_size; "
                + "got 'lots'; allowed: a size such as 2GB, 500MB, 1.5GiB, or a number of bytes",
                error(Map.of("output.max_shard_size", "lots")));
    }

    @Test
    void scaleFactorMustBeFinite() {
        assertEquals(MINIMAL + ": --set edit.0={op: scale-neurons, neurons: 1.2, factor: .nan}: invalid value at "
                + "edit.0.factor; got NaN; allowed: a finite number of magnitude at most 3.4028235E38 (float32)",
                error(Map.of("edit.0", "{op: scale-neurons, neurons: 1.2, factor: .nan}")));
    }

    @Test
    void compactRemovesBothKindsByDefault() {
        assertEquals(new Edit.Compact(List.of(ComponentKind.HEADS, ComponentKind.NEURONS), false),
                firstEdit(Map.of("edit.0", "{op: compact}")));
        assertEquals(MINIMAL + ": --set edit.0={op: compact, remove: [heads, heads]}: invalid value at "
                + "edit.0.remove; got [HEADS, HEADS]; allowed: a list of distinct kinds: heads, neurons",
                error(Map.of("edit.0", "{op: compact, remove: [heads, heads]}")));
    }

    @Test
    void anEditWithoutAnOpListsTheOps() {
        assertEquals(MINIMAL + ": --set edit.0={heads: 1.2}: missing required key 'op' (the edit op to use) in "
                + "edit.0; allowed: zero-heads, keep-heads, zero-neurons, scale-neurons, keep-neurons, zero-experts, "
                + "prune-experts, compact, merge-lora",
                error(Map.of("edit.0", "{heads: 1.2}")));
    }

    @Test
    void editOpsAndLocateMethodsNameTheirRecords() {
        Edit.ops().forEach((name, type) -> assertTrue(type.isRecord() && Edit.class.isAssignableFrom(type), name));
        assertEquals(List.of("zero-heads", "keep-heads", "zero-neurons", "scale-neurons", "keep-neurons", "zero-experts",
                "prune-experts", "compact", "merge-lora"), List.copyOf(Edit.ops().keySet()));
        assertEquals(List.of("head-scan", "attribution", "cna", "lora-scan", "expert-scan", "expert-attribution",
                "expert-usage"), List.copyOf(Locate.methods().keySet()));
    }
}
