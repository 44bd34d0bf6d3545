package org.neurotome.cna;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.NormKind;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One shard of an exhaustive {@link Attribution} (docs/method.md A2): a run of whole passes of the
 * unsharded attribution, steps {@code firstStep} to {@code firstStep + steps().size() − 1} of the
 * prompt set, each step's target, log-probability and frozen norm, and each pass's sums of its
 * steps' component scores. {@link AttributionResult#merge} joins the shards of one prompt set;
 * stored as one binary file ({@link ShardFile}).
 *
 * @param shard     its index, 0-based
 * @param shards    how many shards the attribution was split into
 * @param prompts   the SHA-256 of the prompt set's token ids ({@link PromptSet#digest})
 * @param pass      the steps of a pass ({@link Attribution#rowsPerPass}): shards of one
 *                  attribution agree on it
 * @param firstStep the prompt set's step its first outcome belongs to
 * @param steps     each step's outcome, without its component scores
 * @param sums      each pass's sums of its steps' component scores, in pass order
 */
public record AttributionShard(int shard, int shards, String prompts, int pass, int firstStep,
                               List<StepScores> steps, List<ComponentScores.Sum> sums) {
    private static final String KIND = "attribution";

    public AttributionShard {
        steps = List.copyOf(steps);
        sums = List.copyOf(sums);
    }

    /** Writes the shard to {@code file}, atomically. */
    public void write(Path file) {
        ShardFile.write(file, KIND, out -> {
            out.writeInt(shard);
            out.writeInt(shards);
            out.writeUTF(prompts);
            out.writeInt(pass);
            out.writeInt(firstStep);
            out.writeInt(steps.size());
            for (StepScores s : steps) {
                out.writeInt(s.target());
                out.writeLong(Double.doubleToRawLongBits(s.logprob()));
                out.writeUTF(s.norm().kind().name());
                out.writeLong(Double.doubleToRawLongBits(s.norm().finalVar()));
                out.writeLong(Double.doubleToRawLongBits(s.norm().eps()));
            }
            out.writeInt(sums.size());
            for (ComponentScores.Sum sum : sums) {
                sum.write(out);
            }
        });
    }

    /** Reads a shard {@link #write} wrote; anything else is refused as bad input naming the file. */
    public static AttributionShard read(Path file) {
        return ShardFile.read(file, KIND, in -> {
            int shard = in.readInt();
            int shards = in.readInt();
            String prompts = in.readUTF();
            int pass = in.readInt();
            int firstStep = in.readInt();
            int n = ShardFile.count(in);
            List<StepScores> steps = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int target = in.readInt();
                double logprob = Double.longBitsToDouble(in.readLong());
                NormKind kind;
                try {
                    kind = NormKind.valueOf(in.readUTF());
                } catch (IllegalArgumentException e) {
                    throw NeurotomeException.badInput(file + ": not an attribution shard: unknown norm");
                }
                FrozenNorm norm;
                try {
                    norm = new FrozenNorm(kind, Double.longBitsToDouble(in.readLong()),
                            Double.longBitsToDouble(in.readLong()));
                } catch (IllegalArgumentException e) {
                    throw NeurotomeException.badInput(file + ": not an attribution shard: " + e.getMessage());
                }
                steps.add(new StepScores(target, logprob, norm, null));
            }
            int passes = ShardFile.count(in);
            List<ComponentScores.Sum> sums = new ArrayList<>();
            for (int i = 0; i < passes; i++) {
                sums.add(ComponentScores.Sum.read(in));
            }
            return new AttributionShard(shard, shards, prompts, pass, firstStep, steps, sums);
        });
    }

    /**
     * Checks that {@code parts} are the shards 0 … n−1 of one attribution of {@code prompts}, in
     * order, covering its steps once in passes of one size, on one model shape; refuses anything
     * else as bad input.
     */
    static void checkCover(PromptSet prompts, List<AttributionShard> parts) {
        if (parts.isEmpty()) {
            throw NeurotomeException.badInput("no attribution shard to merge");
        }
        String digest = prompts.digest();
        ComponentScores.Sum shape = parts.stream().flatMap(p -> p.sums().stream()).findFirst().orElse(null);
        int next = 0;
        for (int i = 0; i < parts.size(); i++) {
            AttributionShard s = parts.get(i);
            if (s.shards() != parts.size() || s.shard() != i) {
                throw NeurotomeException.badInput("attribution shard " + s.shard() + " of " + s.shards()
                        + " given as " + i + " of " + parts.size() + ": merge wants shards 0 to "
                        + (parts.size() - 1) + " in order");
            }
            if (!s.prompts().equals(digest)) {
                throw NeurotomeException.badInput("attribution shard " + i + " of " + parts.size()
                        + " was computed on other prompts");
            }
            if (s.pass() != parts.getFirst().pass()) {
                throw NeurotomeException.badInput("attribution shard " + i + " of " + parts.size() + " was scored in "
                        + "passes of " + s.pass() + " steps, shard 0 in passes of " + parts.getFirst().pass()
                        + " (another memory budget or options): their scores would not add up to one attribution");
            }
            if (s.firstStep() != next || s.sums().size() != Math.ceilDiv(s.steps().size(), s.pass())
                    || !s.sums().stream().allMatch(shape::sameShape)) {
                throw NeurotomeException.badInput("attribution shard " + i + " of " + parts.size()
                        + " does not continue the shards before it (steps or model shape differ)");
            }
            next += s.steps().size();
        }
        if (next != prompts.steps().size()) {
            throw NeurotomeException.badInput("attribution shards cover " + next + " of " + prompts.steps().size()
                    + " steps");
        }
    }
}
