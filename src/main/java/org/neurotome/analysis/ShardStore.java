package org.neurotome.analysis;

import java.nio.file.Path;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Where the shards of an analysis run in shards ({@code shards: N} on a recipe's locate step,
 * docs/recipes.md) are computed: by the run that needs them, one after the other ({@link #OWN},
 * as {@code apply} does), or as units of a sweep's store that the variants needing the same
 * analysis share, each shard computed once and kept in its own file.
 */
public interface ShardStore {
    /** Every shard computed by the run that needs it, and kept by none. */
    ShardStore OWN = new ShardStore() {
        @Override
        public <S> S shard(int shard, int shards, Codec<S> codec, Supplier<S> compute) {
            return compute.get();
        }
    };

    /** How a shard is written to its file ({@code write}, atomically) and read back. */
    record Codec<S>(BiConsumer<S, Path> write, Function<Path, S> read) {
    }

    /** Shard {@code shard} of {@code shards}: the one stored, or computed now (and stored). */
    <S> S shard(int shard, int shards, Codec<S> codec, Supplier<S> compute);

    /**
     * Computes and stores shard {@code shard} of {@code shards} unless it is stored or being
     * computed elsewhere; a run that needs every shard offers each before it waits for any, so
     * runs that need the same analysis at once compute different shards. {@link #OWN} stores
     * nothing, so it computes nothing here.
     */
    default <S> void offer(int shard, int shards, Codec<S> codec, Supplier<S> compute) {
    }
}
