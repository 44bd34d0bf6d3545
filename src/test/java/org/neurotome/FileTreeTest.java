package org.neurotome;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Removing a tree while another thread removes it too, as a shutdown cleanup does beside the
 * command's own clean-up: each attempt either finishes or fails with an {@link IOException}
 * (which the cleanup's retry loop handles), never with an unchecked exception that would end
 * the cleanup and leave the entry behind; retried, the tree is gone.
 */
class FileTreeTest {
    @TempDir
    Path tmp;

    @Test
    void twoThreadsRemovingOneTreeBothEndWithItGone() throws Exception {
        for (int round = 0; round < 20; round++) {
            Path tree = tmp.resolve("tree-" + round);
            for (int d = 0; d < 40; d++) {
                Path dir = Files.createDirectories(tree.resolve("d" + d).resolve("inner"));
                for (int f = 0; f < 5; f++) {
                    Files.writeString(dir.resolve("f" + f), "x");
                }
            }
            CountDownLatch start = new CountDownLatch(1);
            List<Throwable> unexpected = new ArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                Thread thread = new Thread(() -> {
                    try {
                        start.await();
                        while (Files.exists(tree)) {
                            try {
                                FileTree.delete(tree);
                            } catch (IOException retried) {
                                // the other thread removed something under this one: try again
                            }
                        }
                    } catch (Throwable e) {
                        synchronized (unexpected) {
                            unexpected.add(e);
                        }
                    }
                });
                thread.start();
                threads.add(thread);
            }
            start.countDown();
            for (Thread thread : threads) {
                thread.join(60_000);
            }
            assertEquals(List.of(), unexpected, "round " + round);
            assertFalse(Files.exists(tree), "round " + round);
        }
    }
}
