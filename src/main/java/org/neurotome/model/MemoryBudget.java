package org.neurotome.model;

import org.neurotome.NeurotomeException;

import java.lang.management.ManagementFactory;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How much memory a command may use for weights widened to float32 and for activations
 * ({@code --max-memory}): every model a command opens reserves its share from one budget, so a
 * candidate and a baseline evaluated side by side share it too. A model whose float32 weights
 * fit keeps them ({@link Weights} resident); one that does not is streamed, one layer at a
 * time. A fixed allowance for the JVM and libtorch themselves is set aside first.
 *
 * <p>A stage of a recipe's plan works in a {@link #share} of the budget, the bytes its plan
 * gave it: what it reserves is reserved from the budget too, and it never has more than the
 * budget has left (units of a sweep run side by side under one budget).
 */
public final class MemoryBudget {
    /** What the JVM and libtorch hold before any weight is read. */
    static final long RUNTIME_OVERHEAD = 384L << 20;
    /** The least room left for activations: a model that would leave less is streamed. */
    static final long ACTIVATION_FLOOR = 64L << 20;
    /** What to do about a budget too small for the work asked of it. */
    static final String RAISE = "raise --max-memory";
    public static final String SYNTAX = "a size such as 512m, 4g, 1.5g or 16G (k, m, g, t: binary units), or bytes";
    private static final Pattern WRITTEN = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt])?(?:i?b)?",
            Pattern.CASE_INSENSITIVE);

    private final long limit;
    private final String origin;
    /** The budget a share is carved from; null for a command's own budget. */
    private final MemoryBudget parent;
    private long reserved;

    private MemoryBudget(long limit, String origin) {
        this(limit, origin, null);
    }

    private MemoryBudget(long limit, String origin, MemoryBudget parent) {
        this.limit = limit;
        this.origin = origin;
        this.parent = parent;
    }

    /** A budget of {@code bytes}; {@code origin} says where it came from, for messages. */
    public static MemoryBudget of(long bytes, String origin) {
        if (bytes < 1) {
            throw new IllegalArgumentException("a memory budget must be positive, got " + bytes);
        }
        return new MemoryBudget(bytes, origin);
    }

    /** No limit: every model keeps its weights (tests, training, small models). */
    public static MemoryBudget unlimited() {
        return new MemoryBudget(Long.MAX_VALUE / 4, "no limit");
    }

    /** Half of the machine's physical memory (of the container's limit, where one is set). */
    public static MemoryBudget machineDefault() {
        long physical = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
        return new MemoryBudget(Math.max(physical / 2, RUNTIME_OVERHEAD + ACTIVATION_FLOOR),
                "the default, half of this machine's " + format(physical));
    }

    /**
     * Reads {@code --max-memory} ({@code 512m}, {@code 4g}, {@code 1.5G}, {@code 8GiB}, plain
     * bytes); null means {@link #machineDefault()}.
     */
    public static MemoryBudget parse(String written) {
        if (written == null) {
            return machineDefault();
        }
        Matcher m = WRITTEN.matcher(written.strip());
        if (!m.matches()) {
            throw NeurotomeException.badInput("--max-memory '" + written + "' is not a size; allowed: " + SYNTAX);
        }
        int shift = m.group(2) == null ? 0 : 10 * (1 + "kmgt".indexOf(m.group(2).toLowerCase(Locale.ROOT)));
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(2).pow(shift))
                .setScale(0, RoundingMode.FLOOR);
        if (bytes.signum() <= 0 || bytes.compareTo(BigDecimal.valueOf(1L << 60)) > 0) {
            throw NeurotomeException.badInput("--max-memory '" + written + "' is out of range; allowed: " + SYNTAX
                    + ", from 1 byte to 1024p");
        }
        return new MemoryBudget(bytes.longValueExact(), "--max-memory " + written);
    }

    /**
     * A share of {@code bytes} of this budget for one stage of a plan, the runtime's allowance
     * already set aside: what is reserved from it is reserved from this budget too.
     */
    public MemoryBudget share(long bytes) {
        return new MemoryBudget(Math.max(0, bytes), origin, this);
    }

    /** The whole budget in bytes (a share's bytes). */
    public long limit() {
        return limit;
    }

    /** Where the budget came from ({@code --max-memory 4g}, the default), for messages. */
    public String origin() {
        return origin;
    }

    /**
     * What is left for the next reservation, after the runtime's own allowance; of a share, what
     * is left of it, at most what the budget it was carved from has left.
     */
    public synchronized long available() {
        long left = Math.max(0, limit - (parent == null ? RUNTIME_OVERHEAD : 0) - reserved);
        return parent == null ? left : Math.min(left, parent.available());
    }

    /** Sets {@code bytes} aside until the reservation is closed (which the owner does when it closes). */
    public synchronized Reservation reserve(long bytes) {
        reserved += bytes;
        return new Reservation(bytes, parent == null ? null : parent.reserve(bytes));
    }

    /** {@code bytes} in the most readable binary unit, e.g. {@code 810.0 MiB}. */
    public static String format(long bytes) {
        String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " bytes" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /**
     * The smallest {@code --max-memory} that leaves {@code need} bytes for one more model beside
     * what is reserved now, and how it is made up: {@code the smallest --max-memory that works is
     * 449m (384 MiB for the JVM and libtorch + 65.0 MiB for this model)}, with what models already
     * open hold when they hold any. It is computed from the reservations themselves, not from
     * {@link #available()}, which stops at zero.
     */
    synchronized String smallestFor(long need, String what) {
        if (parent != null) {
            return parent.smallestFor(need, what);
        }
        long bytes = RUNTIME_OVERHEAD + reserved + need;
        long mib = (bytes + (1L << 20) - 1) >> 20;
        return "the smallest --max-memory that works is " + mib + "m (" + format(RUNTIME_OVERHEAD) + " for the JVM and libtorch"
                + (reserved > 0 ? " + " + format(reserved) + " held by the models already open" : "")
                + " + " + format(need) + " " + what + ")";
    }

    /** A part of the budget set aside, given back on close (to the budget a share is carved from too). */
    public final class Reservation implements AutoCloseable {
        private long bytes;
        private final Reservation fromParent;

        private Reservation(long bytes, Reservation fromParent) {
            this.bytes = bytes;
            this.fromParent = fromParent;
        }

        @Override
        public void close() {
            synchronized (MemoryBudget.this) {
                reserved -= bytes;
                bytes = 0;
            }
            if (fromParent != null) {
                fromParent.close();
            }
        }
    }
}
