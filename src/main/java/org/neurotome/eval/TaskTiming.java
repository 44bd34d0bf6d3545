package org.neurotome.eval;

/** How long one model took to score one task; kept apart from the results, which do not depend on it. */
public record TaskTiming(String task, String model, int cases, int batches, double seconds) {

    /** Scoring throughput. */
    public double casesPerSecond() {
        return seconds > 0 ? cases / seconds : 0.0;
    }
}
