package org.neurotome.surgery;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;

import java.util.List;
import java.util.TreeSet;

/**
 * An edit of listed components — heads, neurons or experts (docs/method.md A5): it holds them
 * in order without duplicates, and describes itself by its op and their ids under one key.
 */
abstract class ComponentEdit<T extends Comparable<T>> implements Edit {
    private final String op;
    private final String key;
    final List<T> components;

    ComponentEdit(String op, String key, List<T> components) {
        this.op = op;
        this.key = key;
        this.components = List.copyOf(new TreeSet<>(components));
    }

    @Override
    public final String op() {
        return op;
    }

    @Override
    public ObjectNode describe() {
        ObjectNode n = Json.MAPPER.createObjectNode().put("op", op);
        components.forEach(x -> n.withArray(key).add(x.toString()));
        return n;
    }
}
