package org.neurotome.cna;

import org.neurotome.NeurotomeException;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One shard of a {@link HeadScan} (docs/method.md A3): the per-step scores of a run of whole
 * batches of the unsharded scan, steps {@code firstStep} to {@code firstStep + steps() − 1} of
 * the prompt set, unablated and with each head ablated. {@link HeadScanResult#merge} joins the
 * shards of one prompt set into the result an unsharded scan gives. A shard is stored as one
 * binary file ({@link ShardFile}) so that the shards of a sweep can run on different machines.
 *
 * @param shard       its index, 0-based
 * @param shards      how many shards the scan was split into
 * @param prompts     the SHA-256 of the prompt set's token ids ({@link PromptSet#digest})
 * @param firstStep   the prompt set's step its first scores belong to
 * @param target      [n] the token scored at each step
 * @param baseLogprob [n] its unablated log-probability
 * @param baseTop1    [n] whether it is the unablated top-1
 * @param logprob     [L][H][n] its log-probability with head (l, h) ablated
 * @param top1        [L][H][n] whether it is then still the top-1
 */
public record HeadScanShard(int shard, int shards, String prompts, int firstStep, int[] target, float[] baseLogprob,
                            boolean[] baseTop1, float[][][] logprob, boolean[][][] top1) {
    private static final String KIND = "head-scan";

    /** How many steps it scores. */
    public int steps() {
        return target.length;
    }

    /** Writes the shard to {@code file}, atomically. */
    public void write(Path file) {
        ShardFile.write(file, KIND, out -> {
            int layers = logprob.length;
            int heads = layers == 0 ? 0 : logprob[0].length;
            out.writeInt(shard);
            out.writeInt(shards);
            out.writeUTF(prompts);
            out.writeInt(firstStep);
            out.writeInt(target.length);
            out.writeInt(layers);
            out.writeInt(heads);
            ShardFile.writeInts(out, target);
            ShardFile.writeFloats(out, baseLogprob);
            ShardFile.writeBooleans(out, baseTop1);
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < heads; h++) {
                    ShardFile.writeFloats(out, logprob[l][h]);
                    ShardFile.writeBooleans(out, top1[l][h]);
                }
            }
        });
    }

    /** Reads a shard {@link #write} wrote; anything else is refused as bad input naming the file. */
    public static HeadScanShard read(Path file) {
        return ShardFile.read(file, KIND, in -> {
            int shard = in.readInt();
            int shards = in.readInt();
            String prompts = in.readUTF();
            int firstStep = in.readInt();
            int n = ShardFile.count(in);
            int layers = ShardFile.count(in);
            int heads = ShardFile.count(in);
            int[] target = ShardFile.readInts(in, n);
            float[] baseLogprob = ShardFile.readFloats(in, n);
            boolean[] baseTop1 = ShardFile.readBooleans(in, n);
            float[][][] logprob = new float[layers][heads][];
            boolean[][][] top1 = new boolean[layers][heads][];
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < heads; h++) {
                    logprob[l][h] = ShardFile.readFloats(in, n);
                    top1[l][h] = ShardFile.readBooleans(in, n);
                }
            }
            return new HeadScanShard(shard, shards, prompts, firstStep, target, baseLogprob, baseTop1, logprob, top1);
        });
    }

    /**
     * Checks that {@code parts} are the shards 0 … n−1 of one scan of {@code prompts}, in order,
     * covering its steps once; refuses anything else as bad input.
     */
    static void checkCover(PromptSet prompts, HeadScanShard[] parts) {
        if (parts.length == 0) {
            throw NeurotomeException.badInput("no head-scan shard to merge");
        }
        String digest = prompts.digest();
        int next = 0;
        for (int i = 0; i < parts.length; i++) {
            HeadScanShard s = parts[i];
            if (s.shards() != parts.length || s.shard() != i) {
                throw NeurotomeException.badInput("head-scan shard " + s.shard() + " of " + s.shards() + " given as "
                        + i + " of " + parts.length + ": merge wants shards 0 to " + (parts.length - 1) + " in order");
            }
            if (!s.prompts().equals(digest)) {
                throw NeurotomeException.badInput("head-scan shard " + i + " of " + parts.length
                        + " was computed on other prompts");
            }
            if (s.firstStep() != next || s.logprob().length != parts[0].logprob().length
                    || s.logprob().length > 0 && s.logprob()[0].length != parts[0].logprob()[0].length) {
                throw NeurotomeException.badInput("head-scan shard " + i + " of " + parts.length
                        + " does not continue the shards before it (steps or model shape differ)");
            }
            next += s.steps();
        }
        if (next != prompts.steps().size()) {
            throw NeurotomeException.badInput("head-scan shards cover " + next + " of " + prompts.steps().size()
                    + " steps");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HeadScanShard s && shard == s.shard && shards == s.shards && prompts.equals(s.prompts)
                && firstStep == s.firstStep && Arrays.equals(target, s.target)
                && Arrays.equals(baseLogprob, s.baseLogprob) && Arrays.equals(baseTop1, s.baseTop1)
                && Arrays.deepEquals(logprob, s.logprob) && Arrays.deepEquals(top1, s.top1);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(target) * 31 + shard;
    }

    @Override
    public String toString() {
        return "head-scan shard " + shard + " of " + shards + " (steps " + firstStep + " to "
                + (firstStep + steps() - 1) + ")";
    }
}
