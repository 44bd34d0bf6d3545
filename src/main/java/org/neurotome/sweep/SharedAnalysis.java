package org.neurotome.sweep;

import org.neurotome.NeurotomeException;
import org.neurotome.analysis.ShardStore;
import org.neurotome.cna.Findings;
import org.neurotome.recipe.Locate;
import org.neurotome.recipe.RecipeLoader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * An analysis unit that several variants of a sweep share: locate step {@code step} computed
 * once, keeping the top {@code top} (0: all), its full findings kept in the unit store as
 * {@code units/<key>/findings.json}. Its key is the SHA-256 of what the analysis depends on
 * ({@link SweepPlan}): the recipe, the overrides that can reach the analysis, the input files'
 * content and the top it keeps, so variants that differ only in how many of the ranking they
 * take, or in what they do after locating, find the same unit. A bounded search also states what
 * the searches for the variants' smaller tops would have scored, which each variant records.
 * An analysis run in shards has a unit per shard ({@link SharedShard}) and is itself their merge;
 * a lora-scan run in shards shares its shards only ({@code findingsShared} false): each variant
 * merges them and runs the comparison with the best layer's LoRA itself.
 *
 * @param step   the locate step's index
 * @param key    the content key
 * @param top    how many of the ranking it keeps: the largest top among the variants sharing it (0: all)
 * @param tops   the tops of the variants sharing it
 * @param shards how many shards it runs in (its step's {@code shards}; 1: none)
 * @param findingsShared whether its findings are a unit of the store, or only its shards
 */
public record SharedAnalysis(int step, String key, int top, List<Integer> tops, int shards, boolean findingsShared)
        implements SharedUnit {
    public SharedAnalysis {
        tops = List.copyOf(tops);
    }

    /** The units of its shards, none when it runs unsharded: shard i's key is the SHA-256 of its key and i/N. */
    List<SharedShard> shardUnits() {
        List<SharedShard> out = new ArrayList<>();
        for (int i = 0; shards > 1 && i < shards; i++) {
            out.add(new SharedShard(SweepPlan.sha(key + "\nshard " + i + "/" + shards + "\n"), i, shards));
        }
        return out;
    }

    /** Its shards as units of {@code store}, each computed once, under its own lock. */
    ShardStore shardStore(Path store, Consumer<String> log) {
        List<SharedShard> units = shardUnits();
        return new ShardStore() {
            @Override
            public <S> S shard(int shard, int n, Codec<S> codec, Supplier<S> compute) {
                return units.get(check(shard, n)).readOrCompute(store, codec.read(), file -> write(codec, compute, file),
                        log);
            }

            @Override
            public <S> void offer(int shard, int n, Codec<S> codec, Supplier<S> compute) {
                units.get(check(shard, n)).offer(store, file -> write(codec, compute, file), log);
            }
        };
    }

    private int check(int shard, int n) {
        if (n != shards) {
            throw new IllegalStateException("the analysis was planned in " + shards + " shards, run in " + n);
        }
        return shard;
    }

    private static <S> void write(ShardStore.Codec<S> codec, Supplier<S> compute, Path file) {
        try {
            Files.createDirectories(file.getParent());
        } catch (IOException e) {
            throw NeurotomeException.outputFailed(file.getParent() + ": cannot create: " + NeurotomeException.reason(e), e);
        }
        codec.write().accept(compute.get(), file);
    }

    @Override
    public String fileName() {
        return "findings.json";
    }

    @Override
    public String what() {
        return "shared ranking";
    }

    /**
     * The findings for {@code unit}, whose overrides (its output's included) are {@code set}: of
     * {@code analysis} run by the unit itself when they are not shared.
     */
    Findings findings(Unit unit, Map<String, String> set, Locate.Analysis analysis,
                      BiFunction<Locate.Analysis, List<Integer>, Findings> run, Consumer<String> log) {
        if (!findingsShared) {
            return run.apply(analysis, List.of());
        }
        Supplier<Findings> compute = () -> {
            Map<String, String> wider = new LinkedHashMap<>(set);
            wider.put("locate." + step + ".top", Integer.toString(top));
            return run.apply((Locate.Analysis) RecipeLoader.loadForRun(unit.recipe(), wider).locate().get(step), tops);
        };
        if (shards > 1 && !done(unit.store())) {
            // merged outside its lock: the variants that need it at once compute different shards, each under its own
            Findings merged = compute.get();
            return readOrCompute(unit.store(), Findings::read, merged::write, log);
        }
        return readOrCompute(unit.store(), Findings::read, file -> compute.get().write(file), log);
    }
}
