package org.neurotome.fuzz;

import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The property every reader of user-supplied bytes must hold (README "Safety"; the fuzz
 * targets of this package): <b>any input ends in a value or a {@link NeurotomeException}
 * with an exit code — never another exception, a hang or a JVM abort</b>. A target is pure
 * Java (a native library's abort would take the test JVM down with it; the tokenizer runs in
 * a process of its own, and is not fuzzed here).
 *
 * <p>How a target is written (the pattern of every {@code *FuzzTest} here):
 * <ol>
 *   <li>a JUnit parameterised test over {@link #rounds()} whose body is
 *       {@code ParserFuzz.fuzz("target", round, generator, bytes -> parse(bytes))}: the
 *       generator turns a seeded {@link Random} into one input, usually {@link #mutate} of
 *       valid examples ({@link #seeds}) — bit flips, inserted bytes and syntax tokens,
 *       deleted, duplicated and spliced ranges, numbers replaced by extremes, truncation — so
 *       most inputs get past the first checks; {@code parse} writes the bytes where the reader
 *       expects them (a temporary file) and reads them through the product's own entry point;</li>
 *   <li>a {@code @Test} calling {@link #replay} on the same {@code parse}: every input that
 *       ever found a bug, kept under {@code src/test/resources/fuzz/<target>/}, is run again
 *       in the default test run;</li>
 *   <li>when an input fails, {@link #check} writes it to
 *       {@code target/fuzz-findings/<target>/<sha>} and says so: copy that file into the
 *       corpus folder, fix the reader, and the replay keeps it fixed.</li>
 * </ol>
 *
 * <p>How much: {@link #tries()} inputs per target, from the system property {@code fuzz.tries}
 * (the build passes 2,000 in the default run; {@code mvn -B test -Pfuzz} 100,000,
 * {@code -Pfuzz -Dfuzz.tries=N} N), shared out over the {@link #ROUNDS} rounds. Input {@code i} of a
 * target comes from a {@link Random} seeded with the run's seed ({@code fuzz.seed}, fixed unless
 * given), the target and {@code i} alone, so a run repeats exactly and a failure names the
 * input that reproduces it.
 */
public final class ParserFuzz {
    /** The longest a single input may take before it counts as a hang. */
    static final long TIMEOUT_SECONDS = 20;
    /** Tokens that steer YAML, JSON and our own syntax into their less travelled paths. */
    private static final String[] TOKENS = {":", "- ", "[", "]", "{", "}", ",", "\"", "'", "&a ", "*a", "!!str ",
            "!!binary ", "? ", "|", ">", "#", "---\n", "...\n", "\n", "\t", "${", "}", "${x}", "\\u0000", "\u0000",
            "\uFEFF", "null", "true", "~", ".nan", ".inf", "-.inf", "0x7f", "1e309", "-1", "0", "2147483648",
            "9223372036854775808", "-9223372036854775809", "1.5", "17.22", "17-", "3-1", "\u00e9", "\uD83D\uDE00",
            "<<: ", "%YAML 1.2\n", "=", "  "};
    private static final String[] NUMBERS = {"0", "-1", "1", "2147483647", "2147483648", "-2147483649",
            "9223372036854775807", "18446744073709551615", "1e309", "-1e309", "1e-320", "0.5", "NaN", "1e39"};

    /** The parameterised rounds each target's tries are shared out over (a round is one test invocation). */
    static final int ROUNDS = 10;
    /** Tries per target when the build passes none. */
    private static final int DEFAULT_TRIES = 2_000;
    /** The seed of a run when {@code fuzz.seed} gives none. */
    private static final long DEFAULT_SEED = 2024;

    private static ExecutorService worker = newWorker();

    private ParserFuzz() {
    }

    /** What a target does with one input. */
    @FunctionalInterface
    public interface Parser {
        void parse(byte[] input) throws Exception;
    }

    /**
     * Runs {@code parser} on {@code input} and fails unless it returns or throws a
     * {@link NeurotomeException} within {@link #TIMEOUT_SECONDS}; a failing input is saved
     * under {@code target/fuzz-findings/<target>/}.
     */
    public static void check(String target, byte[] input, Parser parser) {
        Future<?> run = worker().submit(() -> {
            parser.parse(input);
            return null;
        });
        try {
            run.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            run.cancel(true);
            replaceWorker();
            fail(target + ": no answer after " + TIMEOUT_SECONDS + " s on input " + save(target, input));
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (!(cause instanceof NeurotomeException)) {
                throw new AssertionError(target + ": " + cause + " on input " + save(target, input), cause);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Runs every corpus input of {@code target} ({@code src/test/resources/fuzz/<target>/}) through {@link #check}. */
    public static int replay(String target, Parser parser) {
        Path dir = Path.of("src/test/resources/fuzz", target);
        List<Path> inputs;
        try (Stream<Path> files = Files.list(dir)) {
            inputs = files.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (Path f : inputs) {
            try {
                check(target + "/" + f.getFileName(), Files.readAllBytes(f), parser);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return inputs.size();
    }

    /**
     * A file {@code name} in a temporary folder of this JVM, removed when it exits: where a
     * target writes its input.
     */
    public static synchronized Path scratch(String target, String name) {
        try {
            Path dir = Path.of(System.getProperty("java.io.tmpdir"), "neurotome-fuzz-" + ProcessHandle.current().pid(),
                    target);
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
                dir.getParent().toFile().deleteOnExit();
                dir.toFile().deleteOnExit();
            }
            Path file = dir.resolve(name);
            file.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The files matching {@code glob} under {@code dir}, read: the valid examples mutations start from. */
    public static List<byte[]> seeds(Path dir, String glob) {
        List<byte[]> out = new ArrayList<>();
        var matcher = dir.getFileSystem().getPathMatcher("glob:" + glob);
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).filter(p -> matcher.matches(dir.relativize(p))).sorted()
                    .toList()) {
                out.add(Files.readAllBytes(f));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no seed matches " + glob + " under " + dir);
        }
        return out;
    }

    /** The rounds of a fuzz test: {@code @MethodSource("org.neurotome.fuzz.ParserFuzz#rounds")}. */
    public static IntStream rounds() {
        return IntStream.range(0, ROUNDS);
    }

    /** Inputs per target in this run: the system property {@code fuzz.tries}, else 2,000. */
    public static int tries() {
        return Integer.getInteger("fuzz.tries", DEFAULT_TRIES);
    }

    /**
     * Round {@code round}'s share of the run's {@link #tries()} inputs of {@code target}: each
     * input made by {@code generator} from its own seeded {@link Random} and run through
     * {@link #check}. A failure names the input's number and seed.
     */
    public static void fuzz(String target, int round, Function<Random, byte[]> generator, Parser parser) {
        long runSeed = Long.getLong("fuzz.seed", DEFAULT_SEED);
        int tries = tries();
        for (int i = round; i < tries; i += ROUNDS) {
            long seed = runSeed * 0x9E3779B97F4A7C15L ^ (long) target.hashCode() << 32 ^ i;
            byte[] input = generator.apply(new Random(seed));
            try {
                check(target, input, parser);
            } catch (AssertionError e) {
                throw new AssertionError("input " + i + " of " + tries + " (-Dfuzz.seed=" + runSeed + "): "
                        + e.getMessage(), e);
            }
        }
    }

    /** One of {@code seeds} with 0 to 8 random mutations (0: the seed itself, which must parse or be refused too). */
    public static byte[] mutate(List<byte[]> seeds, Random random) {
        byte[] b = seeds.get(random.nextInt(seeds.size())).clone();
        int n = random.nextInt(9);
        for (int i = 0; i < n; i++) {
            b = mutateOnce(b, seeds, random);
        }
        return b;
    }

    private static byte[] mutateOnce(byte[] b, List<byte[]> seeds, Random r) {
        int at = b.length == 0 ? 0 : r.nextInt(b.length + 1);
        switch (r.nextInt(9)) {
            case 0 -> {
                if (b.length > 0) {
                    b[Math.min(at, b.length - 1)] ^= (byte) (1 << r.nextInt(8));
                }
                return b;
            }
            case 1 -> {
                return insert(b, at, new byte[] {(byte) r.nextInt(256)});
            }
            case 2 -> {
                return insert(b, at, TOKENS[r.nextInt(TOKENS.length)].getBytes(StandardCharsets.UTF_8));
            }
            case 3 -> {
                int len = Math.min(b.length - Math.min(at, b.length), 1 + r.nextInt(16));
                return concat(Arrays.copyOf(b, at), Arrays.copyOfRange(b, at + len, b.length));
            }
            case 4 -> {
                int len = Math.min(b.length - Math.min(at, b.length), 1 + r.nextInt(64));
                return insert(b, at, Arrays.copyOfRange(b, at, at + len));
            }
            case 5 -> {
                byte[] other = seeds.get(r.nextInt(seeds.size()));
                int from = other.length == 0 ? 0 : r.nextInt(other.length);
                return concat(Arrays.copyOf(b, at), Arrays.copyOfRange(other, from, other.length));
            }
            case 6 -> {
                return replaceNumber(b, r);
            }
            case 7 -> {
                return Arrays.copyOf(b, at);
            }
            default -> {
                String line = "\n" + " ".repeat(r.nextInt(6)) + TOKENS[r.nextInt(TOKENS.length)]
                        + TOKENS[r.nextInt(TOKENS.length)];
                return insert(b, at, line.getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    /** Replaces one run of ASCII digits with an extreme number. */
    private static byte[] replaceNumber(byte[] b, Random r) {
        List<int[]> runs = new ArrayList<>();
        for (int i = 0; i < b.length; ) {
            if (b[i] >= '0' && b[i] <= '9') {
                int j = i;
                while (j < b.length && (b[j] >= '0' && b[j] <= '9' || b[j] == '.')) {
                    j++;
                }
                runs.add(new int[] {i, j});
                i = j;
            } else {
                i++;
            }
        }
        if (runs.isEmpty()) {
            return b;
        }
        int[] run = runs.get(r.nextInt(runs.size()));
        byte[] number = NUMBERS[r.nextInt(NUMBERS.length)].getBytes(StandardCharsets.US_ASCII);
        return concat(concat(Arrays.copyOf(b, run[0]), number), Arrays.copyOfRange(b, run[1], b.length));
    }

    private static byte[] insert(byte[] b, int at, byte[] what) {
        return concat(concat(Arrays.copyOf(b, at), what), Arrays.copyOfRange(b, at, b.length));
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static String save(String target, byte[] input) {
        String name = HexFormat.of().formatHex(org.neurotome.Sha256.digest().digest(input)).substring(0, 16);
        Path file = Path.of("target/fuzz-findings", target.replace('/', '_'), name);
        try {
            Files.createDirectories(file.getParent());
            Files.write(file, input);
        } catch (IOException e) {
            return name + " (not saved: " + e.getMessage() + ")";
        }
        return file + " (copy it into src/test/resources/fuzz/" + target.split("/")[0] + "/)";
    }

    private static synchronized ExecutorService worker() {
        return worker;
    }

    private static synchronized void replaceWorker() {
        worker.shutdownNow();
        worker = newWorker();
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-target");
            t.setDaemon(true);
            return t;
        });
    }
}
