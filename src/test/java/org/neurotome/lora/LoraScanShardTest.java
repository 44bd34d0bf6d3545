package org.neurotome.lora;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Role;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shards of a LoRA layer scan ({@link LoraScanShard}, {@link LoraLayerScan#merge}): a shard
 * written and read back holds the same numbers and the same adapter bits, and the merge picks the
 * best layer among the shards as the unsharded scan picks it among all layers — the largest case
 * gain, then the largest token gain, then the lower layer — whichever shard holds it; shards given
 * out of order, scoring the model otherwise or covering other layers are refused as bad input.
 */
class LoraScanShardTest {
    @TempDir
    Path tmp;

    private static LoraConfig config(int layer) {
        return LoraConfig.of(2, 4, false, List.of("q_proj"), List.of(layer), false, null);
    }

    /** A one-module adapter on {@code layer} with A and B drawn from {@code seed}. */
    private static LoraTrainer.Result adapter(int layer, long seed) {
        Random r = new Random(seed);
        float[] a = new float[2 * 3];
        float[] b = new float[5 * 2];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) r.nextGaussian();
        }
        a[0] = Float.intBitsToFloat(0x7fc00123); // a NaN with a payload: bits, not values, are kept
        b[1] = -0.0f;
        LoraModule m = new LoraModule("model.layers." + layer + ".self_attn.q_proj", Role.Q, layer,
                "model.layers." + layer + ".self_attn.q_proj.weight", 2, 4, 2, 5, 3, a, b);
        return new LoraTrainer.Result(config(layer), List.of(m), List.of("{\"event\":\"start\"}", "{\"event\":\"end\"}"),
                1.5 + seed, 0.25 + seed);
    }

    private static LoraLayerScan.LayerGain gain(int layer, double gain, double tokenGain) {
        return new LoraLayerScan.LayerGain(layer, 0.5 + gain, 0.5 + tokenGain, gain, tokenGain, 2.0, 1.0);
    }

    /** Shard {@code i} of {@code n} holding {@code gains}, its best picked by the scan's rule, its adapter from that layer. */
    private static LoraScanShard shard(int i, int n, LoraLayerScan.LayerGain... gains) {
        LoraLayerScan.LayerGain best = gains[0];
        for (LoraLayerScan.LayerGain g : gains) {
            if (g.gain() > best.gain() || g.gain() == best.gain() && g.tokenGain() > best.tokenGain()) {
                best = g;
            }
        }
        return new LoraScanShard(i, n, 0.5, 0.5, List.of(gains), best.layer(), adapter(best.layer(), best.layer()));
    }

    @Test
    void aShardReadBackIsTheShardWritten() {
        LoraScanShard s = shard(1, 3, gain(2, 0.1, 0.2), gain(3, -0.05, 0.3));
        Path file = tmp.resolve("shard.bin");
        s.write(file);
        LoraScanShard back = LoraScanShard.read(file, LoraScanShardTest::config);
        assertEquals(List.of(s.shard(), s.shards(), s.baseAccuracy(), s.baseTokenAccuracy(), s.layers(), s.bestLayer()),
                List.of(back.shard(), back.shards(), back.baseAccuracy(), back.baseTokenAccuracy(), back.layers(),
                        back.bestLayer()));
        LoraTrainer.Result r = s.best();
        LoraTrainer.Result q = back.best();
        assertEquals(List.of(r.config(), r.log(), r.firstLoss(), r.finalLoss()),
                List.of(q.config(), q.log(), q.firstLoss(), q.finalLoss()));
        LoraModule m = r.modules().getFirst();
        LoraModule n = q.modules().getFirst();
        assertEquals(List.of(m.module(), m.role(), m.layer(), m.tensor(), m.rank(), m.alpha(), m.scale(), m.out(), m.in()),
                List.of(n.module(), n.role(), n.layer(), n.tensor(), n.rank(), n.alpha(), n.scale(), n.out(), n.in()));
        assertArrayEquals(bits(m.a()), bits(n.a()));
        assertArrayEquals(bits(m.b()), bits(n.b()));
    }

    @Test
    void aFileCutShortIsBadInput() throws Exception {
        Path file = tmp.resolve("shard.bin");
        shard(0, 1, gain(0, 0.1, 0.1)).write(file);
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length - 5));
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> LoraScanShard.read(file,
                LoraScanShardTest::config));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("cut short"), e.getMessage());
    }

    private static int[] bits(float[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Float.floatToRawIntBits(v[i]);
        }
        return out;
    }

    @Test
    void theMergePicksTheBestAsTheUnshardedScanDoesAcrossShards() {
        // a tie on both gains across a shard boundary: the lower layer, in the earlier shard
        List<LoraScanShard> tie = List.of(shard(0, 2, gain(0, 0.0, 0.0), gain(1, 0.25, 0.5)),
                shard(1, 2, gain(2, 0.25, 0.5), gain(3, 0.1, 0.9)));
        LoraLayerScan.Result r = LoraLayerScan.merge(List.of(0, 1, 2, 3), tie);
        assertEquals(1, r.best());
        assertSame(tie.get(0).best(), r.bestAdapter());
        assertEquals(List.of(0, 1, 2, 3), r.layers().stream().map(LoraLayerScan.LayerGain::layer).toList());
        // the same case gain: the larger token gain wins, in a later shard
        List<LoraScanShard> token = List.of(shard(0, 3, gain(0, 0.25, 0.5)), shard(1, 3, gain(1, 0.1, 0.9)),
                shard(2, 3, gain(2, 0.25, 0.75), gain(3, 0.25, 0.75)));
        r = LoraLayerScan.merge(List.of(0, 1, 2, 3), token);
        assertEquals(2, r.best());
        assertSame(token.get(2).best(), r.bestAdapter());
        // the case gain first, whatever the token gain
        List<LoraScanShard> caseFirst = List.of(shard(0, 2, gain(0, 0.25, 0.9)), shard(1, 2, gain(1, 0.3, -0.5)));
        assertEquals(1, LoraLayerScan.merge(List.of(0, 1), caseFirst).best());
        assertEquals(0.5, r.baseAccuracy());
    }

    @Test
    void shardsOfAnotherScanAreRefused() {
        LoraScanShard a = shard(0, 2, gain(0, 0.1, 0.1));
        LoraScanShard b = shard(1, 2, gain(1, 0.1, 0.1));
        List<List<LoraScanShard>> bad = new ArrayList<>();
        bad.add(List.of(b, a));
        bad.add(List.of(a, new LoraScanShard(1, 2, 0.75, 0.5, b.layers(), 1, b.best())));
        bad.add(List.of(a, shard(1, 2, gain(2, 0.1, 0.1))));
        bad.add(List.of(a));
        for (List<LoraScanShard> shards : bad) {
            NeurotomeException e = assertThrows(NeurotomeException.class, () -> LoraLayerScan.merge(List.of(0, 1),
                    shards));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode(), e.getMessage());
        }
    }
}
