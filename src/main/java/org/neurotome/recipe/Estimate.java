package org.neurotome.recipe;

import java.util.List;
import java.util.Locale;

/**
 * What a plan is expected to cost, stage by stage ({@link CostModel} makes it; docs/estimates.md
 * says how and how its rates were measured): each stage's wall time and the peak resident memory
 * of the process while it runs, as low–high ranges. The run's time is the sum of the stages'
 * times, its peak memory the largest of the stages' peaks.
 *
 * @param stages      each costed stage, in the plan's order
 * @param seconds     the whole run's wall time
 * @param memoryBytes the whole run's peak resident set (VmHWM)
 * @param rates       the rates and constants the figures assume
 */
public record Estimate(List<StageCost> stages, Range seconds, Range memoryBytes, Rates rates) {

    public Estimate {
        stages = List.copyOf(stages);
    }

    /** The estimate of {@code stages}: their times summed, the largest of their peaks. */
    static Estimate of(List<StageCost> stages, Rates rates) {
        Range time = new Range(0, 0);
        Range memory = new Range(0, 0);
        for (StageCost s : stages) {
            time = time.plus(s.seconds());
            memory = memory.max(s.memoryBytes());
        }
        return new Estimate(stages, time, memory, rates);
    }

    /** A range from {@code low} to {@code high} (seconds or bytes). */
    public record Range(double low, double high) {
        public Range {
            if (!(low >= 0 && low <= high && Double.isFinite(high))) {
                throw new IllegalArgumentException("a range runs from a low to a higher finite value, got " + low
                        + " to " + high);
            }
        }

        /** The range of {@code value} spread by {@code spread} (>= 1): value / spread to value × spread. */
        static Range around(double value, double spread) {
            return new Range(value / spread, value * spread);
        }

        Range plus(Range o) {
            return new Range(low + o.low, high + o.high);
        }

        Range max(Range o) {
            return new Range(Math.max(low, o.low), Math.max(high, o.high));
        }

        String bytes() {
            return mib(low) + "–" + mib(high) + " MiB";
        }

        String time() {
            return high < 120 ? String.format(Locale.ROOT, "%.0f–%.0f s", Math.floor(low), Math.max(1, Math.ceil(high)))
                    : String.format(Locale.ROOT, "%.1f–%.1f min", low / 60, high / 60);
        }

        private static String mib(double bytes) {
            return String.format(Locale.ROOT, "%,.0f", bytes / (1 << 20));
        }
    }

    /**
     * One stage's cost: {@code work} says what was counted (forward rows and tokens, training
     * steps, bytes read or written), {@code seconds} its wall time, {@code memoryBytes} the
     * process's peak resident set while it runs.
     */
    public record StageCost(String stage, String work, Range seconds, Range memoryBytes) {
        String line() {
            return String.format(Locale.ROOT, "  %-9s %s, %s: %s", stage, seconds.time(), memoryBytes.bytes(), work);
        }
    }

    /**
     * The constants of the cost model, measured on a 2-core machine (docs/estimates.md), and the
     * Java heap's limit in the planning JVM, which a run launched the same way shares.
     *
     * @param baseRssBytes        resident set of the JVM with libtorch loaded and a tiny model run
     * @param startSeconds        JVM start, libtorch load and the tokenizer process
     * @param flopsPerSecond      float32 throughput of large matrix products
     * @param weightBytesPerSecond float32 weights a batched forward streams through its matrix products
     *                            (a forward of few rows is bound by it, not by its FLOPs)
     * @param elementSeconds      time per activation element a forward writes (norms, softmax,
     *                            activations, rotary: the element-wise work around the products)
     * @param dispatchSeconds     fixed cost of one layer of one batched forward (libtorch op dispatch)
     * @param trainStepSeconds    fixed cost of one training step besides its forward and backward
     * @param cellSeconds         time per neuron × vocabulary entry scored at one position by bounds
     * @param readBytesPerSecond  reading stored weights widened to float32
     * @param writeBytesPerSecond the checkpoint writer
     * @param heapBytes           what the Java heap grows by over an analysis or an eval
     * @param trainHeapBytes      what it grows by over LoRA training
     * @param maxHeapBytes        the Java heap's limit, which caps what the heap grows by
     * @param keptCellBytes       heap allocated per neuron × vocabulary entry of each case ranked on its own
     * @param keptCellSeconds     time per neuron × vocabulary entry of each case ranked on its own
     * @param timeSpread          the factor either side of a central time a range spans
     * @param memorySpread        the factor either side of a central memory figure a range spans
     */
    public record Rates(long baseRssBytes, double startSeconds, double flopsPerSecond, double weightBytesPerSecond,
                        double elementSeconds, double dispatchSeconds, double trainStepSeconds, double cellSeconds, double readBytesPerSecond, double writeBytesPerSecond,
                        long heapBytes, long trainHeapBytes, long maxHeapBytes, double keptCellBytes,
                        double keptCellSeconds, double timeSpread, double memorySpread) {
    }

    /** The estimate as {@code apply --dry-run} prints it: the totals, then one line per costed stage. */
    String text() {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
                "estimate time %s, peak memory %s (sum of the stages' times, largest stage peak; docs/estimates.md)%n",
                seconds.time(), memoryBytes.bytes()));
        stages.forEach(s -> b.append(s.line()).append('\n'));
        return b.toString();
    }
}
