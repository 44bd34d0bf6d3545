package org.neurotome.model;

import ai.djl.Device;
import org.junit.jupiter.api.Test;
import org.neurotome.checkpoint.Checkpoint;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * No native memory leaks per forward: the process's resident set after 2,000 forwards
 * (batched, with taps and interventions, on stories260K) stays within 10 % of what it is
 * after 100. The loop runs in a fresh JVM with a small serial-GC heap ({@link #main}), so the other
 * tests of the run cannot move its resident set. Before each reading, garbage is collected
 * (freeing the direct buffers of closed arrays) and glibc's {@code malloc_trim} returns freed
 * heap pages; a reading is the least of five samples 50 ms apart, because the JIT compiler's
 * threads briefly hold tens of MiB at random moments. A leak raises that floor; those
 * transients do not.
 */
class MemoryStabilityTest {
    @Test
    void residentMemoryStaysFlatOverThousandsOfForwards() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseSerialGC", "-Dai.djl.offline=true", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), MemoryStabilityTest.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), out);
        String[] kib = out.substring(out.lastIndexOf('\n') + 1).split(" ");
        long after100 = Long.parseLong(kib[0]);
        long after2000 = Long.parseLong(kib[1]);
        assertTrue(after2000 <= after100 * 1.10, () -> "RSS grew from " + after100 + " KiB to " + after2000 + " KiB");
    }

    /** Runs the forwards and prints the resident set (KiB) after 100 and after 2,000 of them. */
    public static void main(String[] args) throws Throwable {
        try (Checkpoint ckpt = Checkpoint.open(ReferenceData.caseDir("stories260K"));
             Weights w = Weights.load(ckpt, Device.cpu()); Transformer t = new Transformer(w)) {
            ForwardRequest request = ForwardRequest.tokens(new int[] {1, 403, 407, 261}, new int[] {1, 306, 462, 435, 264})
                    .withTaps(Tap.residPre(2), Tap.attnResult(3), Tap.attnPattern(3), Tap.mlpPost(4), Tap.FINAL_SCALE)
                    .withHeadScales(List.of(new HeadScale(1, 3, 5, 0f)))
                    .withNeuronScales(List.of(new NeuronScale(0, 1, 7, 0f)));
            long after100 = 0;
            for (int i = 1; i <= 2000; i++) {
                try (ForwardResult r = t.forward(request)) {
                    r.lastLogits(1);
                }
                if (i == 100) {
                    after100 = liveResidentKiB();
                }
            }
            System.out.println(after100 + " " + liveResidentKiB());
        }
    }

    private static long liveResidentKiB() throws Throwable {
        System.gc();
        MethodHandle trim = Linker.nativeLinker().downcallHandle(
                Linker.nativeLinker().defaultLookup().find("malloc_trim").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            Thread.sleep(50);
            int released = (int) trim.invokeExact(0L);
            least = Math.min(least, residentKiB(released));
        }
        return least;
    }

    private static long residentKiB(int trimmed) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status (malloc_trim returned " + trimmed + ")");
    }
}
