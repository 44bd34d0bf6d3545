package org.neurotome.sweep;

/**
 * One shard of a {@link SharedAnalysis} run in shards ({@code shards: N} on its locate step): a
 * unit of its own, keyed by the SHA-256 of the analysis's key and {@code i/N}, its result kept
 * in the unit store as {@code units/<key>/shard.bin}. The variants that need the analysis
 * compute its shards, each under the shard's own lock, and every one of them merges the stored
 * shards into the analysis's findings (the merge unit), which the first to finish writes.
 *
 * @param key    the content key
 * @param shard  its index, 0-based
 * @param shards how many shards the analysis runs in
 */
record SharedShard(String key, int shard, int shards) implements SharedUnit {
    @Override
    public String fileName() {
        return "shard.bin";
    }

    @Override
    public String what() {
        return "analysis shard " + (shard + 1) + " of " + shards;
    }
}
