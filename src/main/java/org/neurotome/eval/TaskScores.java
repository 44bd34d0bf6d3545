package org.neurotome.eval;

import java.util.List;

/** What one model did on one task: the score of every case, in task order, and the metrics computed from them. */
public record TaskScores(List<CaseScore> scores, TaskMetrics metrics) {

    public TaskScores {
        scores = List.copyOf(scores);
    }
}
