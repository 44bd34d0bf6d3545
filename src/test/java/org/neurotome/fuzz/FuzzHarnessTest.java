package org.neurotome.fuzz;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The harness of {@link ParserFuzz}: its rounds together try every input of a run once, the
 * inputs of a run repeat exactly, a failing input is reported with its number, and the
 * property-testing library the fuzz targets once used is gone from the test class path.
 */
class FuzzHarnessTest {

    @Test
    void theRoundsTogetherTryEachInputOnce() {
        List<Long> firsts = new ArrayList<>();
        ParserFuzz.rounds().forEach(round -> ParserFuzz.fuzz("harness", round, FuzzHarnessTest::input,
                bytes -> firsts.add(java.nio.ByteBuffer.wrap(bytes).getLong())));
        assertEquals(ParserFuzz.tries(), firsts.size());
        assertEquals(firsts.size(), firsts.stream().distinct().count(), "two inputs share a seed");
    }

    @Test
    void aRunRepeatsItsInputs() {
        List<Long> first = new ArrayList<>();
        List<Long> second = new ArrayList<>();
        ParserFuzz.fuzz("harness", 3, FuzzHarnessTest::input, b -> first.add(java.nio.ByteBuffer.wrap(b).getLong()));
        ParserFuzz.fuzz("harness", 3, FuzzHarnessTest::input, b -> second.add(java.nio.ByteBuffer.wrap(b).getLong()));
        assertEquals(first, second);
    }

    @Test
    void aFailingInputIsNamed() {
        AssertionError e = assertThrows(AssertionError.class, () -> ParserFuzz.fuzz("harness", 0,
                FuzzHarnessTest::input, bytes -> {
                    throw new IllegalStateException("boom");
                }));
        assertTrue(e.getMessage().startsWith("input 0 of " + ParserFuzz.tries() + " (-Dfuzz.seed="), e.getMessage());
        assertTrue(e.getMessage().contains("IllegalStateException: boom"), e.getMessage());
    }

    @Test
    void noPropertyTestingLibraryIsOnTheClassPath() {
        for (String name : new String[] {"net.jqwik.api.Property", "net.jqwik.engine.JqwikTestEngine"}) {
            assertThrows(ClassNotFoundException.class, () -> Class.forName(name), name);
        }
    }

    /** Eight bytes from the input's own random source. */
    private static byte[] input(Random r) {
        return java.nio.ByteBuffer.allocate(8).putLong(r.nextLong()).array();
    }
}
