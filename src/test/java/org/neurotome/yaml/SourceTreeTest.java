package org.neurotome.yaml;

import com.fasterxml.jackson.core.JsonPointer;
import org.junit.jupiter.api.Test;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SourceTreeTest {
    static final String DOC = """
            model:
              path: ../m
            edit:
              - op: zero-heads
                heads: [17.20, 17.2]
              - {op: compact, pad: true}
            """;

    private static JsonPointer p(String pointer) {
        return JsonPointer.compile(pointer);
    }

    @Test
    void remembersWhereEveryKeyAndValueIsWritten() {
        SourceTree t = SourceTree.parse("r.yaml", DOC);
        assertEquals("r.yaml:2:9", t.valuePosition(p("/model/path")).toString());
        assertEquals("r.yaml:2:3", t.keyPosition(p("/model/path")).toString());
        assertEquals("r.yaml:4:5", t.valuePosition(p("/edit/0")).toString());
        assertEquals("r.yaml:5:20", t.valuePosition(p("/edit/0/heads/1")).toString());
        assertEquals("r.yaml:6:24", t.valuePosition(p("/edit/1/pad")).toString());
    }

    @Test
    void anAbsentValueIsPlacedAtItsNearestWrittenAncestor() {
        SourceTree t = SourceTree.parse("r.yaml", DOC);
        assertEquals("r.yaml:6:5", t.valuePosition(p("/edit/1/remove")).toString());
        assertEquals("r.yaml:6:5", t.keyPosition(p("/edit/1/remove")).toString());
    }

    @Test
    void keepsTheWrittenDigitsOfDecimals() {
        SourceTree t = SourceTree.parse("r.yaml", DOC);
        assertEquals("17.20", t.node(p("/edit/0/heads/0")).decimalValue().toPlainString());
        assertEquals("17.2", t.node(p("/edit/0/heads/1")).decimalValue().toPlainString());
    }

    @Test
    void yamlOneOneBooleanWordsStayText() {
        SourceTree t = SourceTree.parse("r.yaml", "a: yes\nb: off\nc: true\n");
        assertTrue(t.node(p("/a")).isTextual());
        assertTrue(t.node(p("/b")).isTextual());
        assertTrue(t.node(p("/c")).isBoolean());
    }

    @Test
    void duplicateKeysAreErrorsAtTheSecondKey() {
        NeurotomeException e = assertThrows(NeurotomeException.class,
                () -> SourceTree.parse("r.yaml", "edit:\n  - op: compact\n    pad: true\n    pad: false\n"));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        assertEquals("r.yaml:4:5: duplicate key in edit.0; got 'pad' again (first at line 3)", e.getMessage());
    }

    @Test
    void aSecondDocumentIsAnError() {
        NeurotomeException e = assertThrows(NeurotomeException.class,
                () -> SourceTree.parse("r.yaml", "a: 1\n---\nb: 2\n"));
        assertEquals("r.yaml:3:1: a second YAML document in one file; allowed: one document (remove the '---' line)",
                e.getMessage());
    }

    @Test
    void placesNameMappingsWithTheirLabelAndValuesByPath() {
        SourceTree t = SourceTree.parse("r.yaml", DOC);
        assertEquals("in edit.0 (op: zero-heads)", t.place(p("/edit/0"), true));
        assertEquals("at edit.0.heads.1", t.place(p("/edit/0/heads/1"), false));
        assertEquals("in model", t.place(p("/model"), true));
        assertEquals("at the top level", t.place(p(""), true));
    }

    @Test
    void overrideReplacesAValueAndIsPositionedAtTheOverride() {
        SourceTree t = SourceTree.parse("r.yaml", DOC);
        t.override("edit.0.heads", "[1.2, 3.4]");
        assertEquals("[1.2,3.4]", t.node(p("/edit/0/heads")).toString());
        assertEquals("r.yaml: --set edit.0.heads=[1.2, 3.4]", t.valuePosition(p("/edit/0/heads/1")).toString());
        assertEquals("r.yaml:2:9", t.valuePosition(p("/model/path")).toString());
    }

    @Test
    void overrideCreatesMissingMappings() {
        SourceTree t = SourceTree.parse("r.yaml", DOC);
        t.override("output.dir", "out/x");
        t.override("edit.1.remove", "[heads]");
        assertEquals("out/x", t.node(p("/output/dir")).asText());
        assertEquals("[\"heads\"]", t.node(p("/edit/1/remove")).toString());
        assertEquals("r.yaml: --set output.dir=out/x", t.keyPosition(p("/output/dir")).toString());
    }

    @Test
    void overrideFindsListItemsById() {
        SourceTree t = SourceTree.parse("r.yaml", "locate:\n  - id: scan\n    top: 3\n");
        t.override("locate.scan.top", "5");
        assertEquals(5, t.node(p("/locate/0/top")).asInt());
    }

    @Test
    void overrideWithAnEmptySegmentIsAnError() {
        SourceTree t = SourceTree.parse("r.yaml", DOC);
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> t.override("edit..op", "compact"));
        assertEquals("r.yaml: --set edit..op=compact: empty key segment in override; got 'edit..op'; "
                + "allowed: dotted keys such as output.dir or edit.1.factor", e.getMessage());
    }

    @Test
    void dottedPathsAndPointersConvert() {
        assertEquals("edit.1.factor", SourceTree.dotted(p("/edit/1/factor")));
        assertEquals(p("/locate/0/dataset"), SourceTree.pointer("locate.0.dataset"));
        assertEquals(p(""), SourceTree.pointer(""));
    }
}
