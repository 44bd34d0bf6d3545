package org.neurotome.eval;

/** Told after every scored batch how far a task has come, e.g. to draw a progress bar. */
@FunctionalInterface
public interface ProgressListener {

    /**
     * @param task  the task name
     * @param model {@code candidate} or {@code baseline}
     * @param done  cases scored so far (0 before the first batch)
     * @param total cases of the task
     */
    void update(String task, String model, int done, int total);
}
