package org.neurotome.yaml;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SuggestionsTest {

    @Test
    void levenshteinDistanceOfKnownPairs() {
        assertEquals(3, Suggestions.distance("kitten", "sitting"));
        assertEquals(0, Suggestions.distance("dtype", "dtype"));
        assertEquals(1, Suggestions.distance("dtyp", "dtype"));
        assertEquals(5, Suggestions.distance("", "heads"));
        assertEquals(1, Suggestions.distance("tpo", "top"), "a swap of neighbours is one edit");
    }

    @Test
    void suggestsTheClosestPlausibleWord() {
        List<String> keys = List.of("dir", "dtype", "max_shard_size");
        assertEquals(Optional.of("dtype"), Suggestions.closest("dtyp", keys));
        assertEquals(Optional.of("F16"), Suggestions.closest("f16", List.of("keep", "F32", "F16", "BF16")));
        assertEquals(Optional.of("max_shard_size"), Suggestions.closest("max_shard", keys));
    }

    @Test
    void staysQuietWhenNothingIsClose() {
        assertEquals(Optional.empty(), Suggestions.closest("factor", List.of("op", "heads")));
        assertEquals(Optional.empty(), Suggestions.closest("prune-heads", List.of("zero-heads", "keep-heads")));
    }
}
