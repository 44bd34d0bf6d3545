package org.neurotome.cli;

import org.neurotome.model.MemoryBudget;
import org.neurotome.model.TorchThreads;
import picocli.CommandLine.Option;

/**
 * The {@code --max-memory SIZE} and {@code --threads N} options of commands that run a model:
 * the memory budget every model of the command shares (weights kept when they fit, streamed
 * layer by layer otherwise; default half the machine's memory) and libtorch's intra-op
 * threads (default libtorch's own choice).
 */
public final class ResourceOptions {
    @Option(names = "--max-memory", paramLabel = "SIZE",
            description = "Memory for weights and activations, e.g. 512m, 4g (default: half of physical memory). "
                    + "A model whose float32 weights do not fit is streamed one layer at a time.")
    String maxMemory;

    @Option(names = "--threads", paramLabel = "N",
            description = "libtorch intra-op threads (default: libtorch's own choice).")
    Integer threads;

    private MemoryBudget budget;

    /** The budget, read once per command. */
    MemoryBudget budget() {
        if (budget == null) {
            budget = MemoryBudget.parse(maxMemory);
        }
        return budget;
    }

    /** Sets libtorch's threads for the span of the command (keeps its own count when not asked). */
    TorchThreads threads() {
        return TorchThreads.use(threads == null ? TorchThreads.current() : threads);
    }
}
