package org.neurotome.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.IntNode;
import org.junit.jupiter.api.Test;
import org.neurotome.NeurotomeException;
import org.neurotome.recipe.Sweep;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GridTest {
    @Test
    void expandsEveryCombinationTheFirstKeySlowest() {
        Grid g = Grid.of(null, List.of("locate.0.top=6,12", "edit.0.factor=0,0.5,1"));
        List<Map<String, String>> want = List.of(
                Map.of("locate.0.top", "6", "edit.0.factor", "0"), Map.of("locate.0.top", "6", "edit.0.factor", "0.5"),
                Map.of("locate.0.top", "6", "edit.0.factor", "1"), Map.of("locate.0.top", "12", "edit.0.factor", "0"),
                Map.of("locate.0.top", "12", "edit.0.factor", "0.5"), Map.of("locate.0.top", "12", "edit.0.factor", "1"));
        assertEquals(want, List.copyOf(g.variants()));
        assertEquals(List.of("locate.0.top", "edit.0.factor"), List.copyOf(g.variants().getFirst().keySet()));
    }

    @Test
    void aListValueStaysWhole() {
        assertEquals(List.of("[17.22, 14.19]", "[3.4]", "'a,b'"), Grid.split("[17.22, 14.19], [3.4],'a,b'"));
    }

    @Test
    void theRecipesGridWithArgumentsReplacingAKey() {
        Map<String, List<JsonNode>> block = new LinkedHashMap<>();
        block.put("locate.0.top", List.of(IntNode.valueOf(6), IntNode.valueOf(12)));
        block.put("edit.0.factor", List.of(DecimalNode.valueOf(new BigDecimal("0.50"))));
        Grid g = Grid.of(new Sweep(block, null), List.of("locate.0.top=24"));
        assertEquals(List.of("24"), g.axes().get("locate.0.top"));
        assertEquals(List.of("0.50"), g.axes().get("edit.0.factor"), "written digits kept");
    }

    @Test
    void keysTheSweepChoosesAndMalformedArgumentsAreRefused() {
        for (String bad : List.of("output.dir=a,b", "sweep.grid=1", "locate.0.top", "locate.0.top=6,,12")) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> Grid.of(null, List.of(bad)));
            assertEquals(2, e.exitCode().code(), bad);
            assertTrue(e.getMessage().startsWith("--grid "), e.getMessage());
        }
    }
}
