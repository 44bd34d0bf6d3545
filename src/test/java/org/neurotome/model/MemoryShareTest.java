package org.neurotome.model;

import ai.djl.Device;
import org.junit.jupiter.api.Test;
import org.neurotome.checkpoint.Checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A plan stage's share of the memory budget ({@link MemoryBudget#share}, {@link Weights#workIn}):
 * what is reserved from the share is reserved from the budget too and given back to both; the
 * share offers what is left of its own bytes, never more than the budget has left; while a stage
 * works in it, the weights' users divide the share instead of the budget, and the budget again
 * once the stage is over.
 */
class MemoryShareTest {
    private static final long MIB = 1L << 20;

    @Test
    void aShareReservesFromItsBudgetAndOffersAtMostWhatTheBudgetHasLeft() {
        MemoryBudget budget = MemoryBudget.of(1L << 30, "a test budget");
        long all = budget.available();
        MemoryBudget share = budget.share(100 * MIB);
        assertEquals(100 * MIB, share.available());
        try (MemoryBudget.Reservation cache = share.reserve(30 * MIB)) {
            assertEquals(70 * MIB, share.available());
            assertEquals(all - 30 * MIB, budget.available(), "the share's reservation is the budget's too");
            try (MemoryBudget.Reservation elsewhere = budget.reserve(all - 50 * MIB)) {
                assertEquals(20 * MIB, budget.available());
                assertEquals(20 * MIB, share.available(), "no more than the budget has left");
            }
        }
        assertEquals(100 * MIB, share.available());
        assertEquals(all, budget.available(), "closing the reservation gives it back to both");
    }

    @Test
    void theWeightsUsersDivideTheStagesShareWhileItLasts() {
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir("stories260K"))) {
            MemoryBudget budget = MemoryBudget.of(1L << 30, "a test budget");
            try (Weights w = Weights.load(ckpt, Device.cpu(), budget)) {
                long left = budget.available();
                assertEquals(left, w.memory().passGroupBytes());
                try (Weights.Stage stage = w.workIn(budget.share(8 * MIB))) {
                    assertEquals(8 * MIB, w.memory().passGroupBytes());
                    assertEquals(4 * MIB, w.memory().recordedRowsBytes());
                    assertEquals(2 * MIB / 4, w.memory().projectedFloats(1));
                    try (MemoryBudget.Reservation cache = w.memory().reserve(2 * MIB)) {
                        assertEquals(6 * MIB, w.memory().passGroupBytes());
                        assertEquals(3 * MIB, w.memory().projectionCacheBytes(Long.MAX_VALUE));
                        assertEquals(left - 2 * MIB, budget.available(), "the stage's cache is held in the budget");
                    }
                }
                assertEquals(left, w.memory().passGroupBytes(), "after the stage, the budget again");
            }
        }
    }
}
