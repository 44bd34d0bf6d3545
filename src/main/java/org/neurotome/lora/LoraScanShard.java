package org.neurotome.lora;

import org.neurotome.NeurotomeException;
import org.neurotome.arch.Role;
import org.neurotome.cna.ShardFile;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * One shard of a {@link LoraLayerScan} (P1 §5) run in shards: a run of consecutive layers of the
 * scan, each layer's LoRA trained and scored as the unsharded scan does, the model's own accuracy
 * on the scored cases, and the trained adapter of the shard's best layer (chosen as the scan
 * chooses). {@link LoraLayerScan#merge} joins the shards into the scan's result. A shard is stored
 * as one binary file ({@link ShardFile}): its numbers and the adapter's A and B as their exact
 * bits, so the merged scan's adapter is the one the unsharded scan trains; the adapter's config is
 * not stored but derived again from the layer's training settings, as the trainer derives it.
 *
 * @param shard             its index, 0-based
 * @param shards            how many shards the scan was split into
 * @param baseAccuracy      the model's own accuracy on the scored cases
 * @param baseTokenAccuracy the model's own token accuracy on them
 * @param layers            each of its layers' LoRA, in the scan's order
 * @param bestLayer         its best layer
 * @param best              that layer's trained adapter
 */
public record LoraScanShard(int shard, int shards, double baseAccuracy, double baseTokenAccuracy,
                            List<LoraLayerScan.LayerGain> layers, int bestLayer, LoraTrainer.Result best) {
    private static final String KIND = "lora-scan";

    public LoraScanShard {
        layers = List.copyOf(layers);
    }

    /** Writes the shard to {@code file}, atomically. */
    public void write(Path file) {
        ShardFile.write(file, KIND, out -> {
            out.writeInt(shard);
            out.writeInt(shards);
            out.writeDouble(baseAccuracy);
            out.writeDouble(baseTokenAccuracy);
            out.writeInt(layers.size());
            for (LoraLayerScan.LayerGain g : layers) {
                out.writeInt(g.layer());
                ShardFile.writeDoubles(out, new double[] {g.accuracy(), g.tokenAccuracy(), g.gain(), g.tokenGain(),
                        g.firstLoss(), g.finalLoss()});
            }
            out.writeInt(bestLayer);
            out.writeInt(best.modules().size());
            for (LoraModule m : best.modules()) {
                text(out, m.module());
                text(out, m.role().name());
                out.writeInt(m.layer());
                text(out, m.tensor());
                out.writeInt(m.rank());
                out.writeDouble(m.alpha());
                out.writeDouble(m.scale());
                out.writeInt(m.out());
                out.writeInt(m.in());
                ShardFile.writeFloats(out, m.a());
                ShardFile.writeFloats(out, m.b());
            }
            out.writeInt(best.log().size());
            for (String line : best.log()) {
                text(out, line);
            }
            out.writeDouble(best.firstLoss());
            out.writeDouble(best.finalLoss());
        });
    }

    /**
     * Reads a shard {@link #write} wrote, its adapter under {@code config} (the adapter config of
     * a layer's LoRA); anything else is refused as bad input naming the file.
     */
    public static LoraScanShard read(Path file, IntFunction<LoraConfig> config) {
        return ShardFile.read(file, KIND, in -> {
            int shard = in.readInt();
            int shards = in.readInt();
            double baseAccuracy = in.readDouble();
            double baseTokenAccuracy = in.readDouble();
            int n = ShardFile.count(in);
            List<LoraLayerScan.LayerGain> layers = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int layer = in.readInt();
                double[] v = ShardFile.readDoubles(in, 6);
                layers.add(new LoraLayerScan.LayerGain(layer, v[0], v[1], v[2], v[3], v[4], v[5]));
            }
            int bestLayer = in.readInt();
            int count = ShardFile.count(in);
            List<LoraModule> modules = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String module = text(in);
                Role role = role(file, text(in));
                int layer = in.readInt();
                String tensor = text(in);
                int rank = ShardFile.count(in);
                double alpha = in.readDouble();
                double scale = in.readDouble();
                int out = ShardFile.count(in);
                int inFeatures = ShardFile.count(in);
                float[] a = ShardFile.readFloats(in, Math.multiplyExact(rank, inFeatures));
                float[] b = ShardFile.readFloats(in, Math.multiplyExact(out, rank));
                modules.add(new LoraModule(module, role, layer, tensor, rank, alpha, scale, out, inFeatures, a, b));
            }
            int lines = ShardFile.count(in);
            List<String> log = new ArrayList<>();
            for (int i = 0; i < lines; i++) {
                log.add(text(in));
            }
            double firstLoss = in.readDouble();
            double finalLoss = in.readDouble();
            if (layers.stream().noneMatch(g -> g.layer() == bestLayer)) {
                throw NeurotomeException.badInput(file + ": a lora-scan shard whose best layer " + bestLayer
                        + " is not one of its layers");
            }
            return new LoraScanShard(shard, shards, baseAccuracy, baseTokenAccuracy, layers, bestLayer,
                    new LoraTrainer.Result(config.apply(bestLayer), modules, log, firstLoss, finalLoss));
        });
    }

    private static void text(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String text(DataInputStream in) throws IOException {
        byte[] b = new byte[ShardFile.count(in)];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static Role role(Path file, String name) {
        try {
            return Role.valueOf(name);
        } catch (IllegalArgumentException e) {
            throw NeurotomeException.badInput(file + ": a lora-scan shard with an unknown projection " + name);
        }
    }
}
