package org.neurotome.eval;

import org.neurotome.yaml.ReferencedFile;
import org.neurotome.yaml.SchemaViolation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An eval suite ({@code eval/suites/*.yaml}): the tasks to run on a checkpoint and the gates
 * its metrics must pass. Read with {@link SuiteLoader}; the schema is in {@code docs/suites.md}.
 *
 * @param name        a short name for reports
 * @param description one line on what the suite checks (optional)
 * @param tasks       the tasks, with unique ids
 * @param gates       the release gates; each names a metric of one of the tasks
 */
public record Suite(String name, String description, List<Task> tasks, List<Gate> gates) {

    public Suite {
        if (name == null || name.isBlank()) {
            throw SchemaViolation.missingKey("name", "a short name for reports");
        }
        if (tasks == null) {
            throw SchemaViolation.missingKey("tasks", "one or more tasks");
        }
        if (tasks.isEmpty()) {
            throw SchemaViolation.of("empty list").at("tasks").allowed("one or more tasks");
        }
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            if (t == null) {
                throw SchemaViolation.of("empty item").at("tasks", i).allowed("a task mapping");
            }
            Integer first = ids.putIfAbsent(t.id(), i);
            if (first != null) {
                throw SchemaViolation.of("duplicate task id").at("tasks", i).got(t.id())
                        .allowed("an id not used by tasks." + first + " (set 'id' to tell tasks of one kind apart)");
            }
        }
        tasks = List.copyOf(tasks);
        gates = gates == null ? List.of() : gates;
        requireTasks(gates, List.copyOf(ids.keySet()), "gates");
        gates = List.copyOf(gates);
    }

    /** Throws when a gate names a task the suite does not have; {@code key} locates the gates list. */
    public static void requireTasks(List<Gate> gates, List<String> taskIds, String... key) {
        List<String> sorted = taskIds.stream().sorted().toList();
        for (int i = 0; i < gates.size(); i++) {
            Gate g = gates.get(i);
            if (g == null) {
                throw SchemaViolation.of("empty item").at((Object[]) key).at(i).allowed("a gate expression");
            }
            if (!taskIds.contains(g.task())) {
                throw SchemaViolation.of("gate names an unknown task '" + g.task() + "'").at((Object[]) key).at(i)
                        .got(g.toString()).allowedWords(g.task(), sorted);
            }
        }
    }

    /** The task ids, in suite order. */
    public List<String> taskIds() {
        return tasks.stream().map(Task::id).toList();
    }

    /** The datasets the tasks read, keyed by where the suite names them. */
    public List<ReferencedFile> datasets() {
        List<ReferencedFile> files = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            files.add(new ReferencedFile("tasks." + i + ".dataset", tasks.get(i).dataset(), false));
        }
        return files;
    }
}
