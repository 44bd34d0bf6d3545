package org.neurotome.eval;

import java.util.Optional;

/** One evaluated task: its spec, the cases it ran, and the candidate's (and the baseline's) scores and metrics. */
public record TaskResult(TaskSpec spec, TaskDataset dataset, TaskScores candidate, Optional<TaskScores> baseline) {
}
