package org.neurotome.output;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Keeps an output from destroying what the user did not ask to replace (README "Safety"). An
 * output may not be, contain or lie inside an input the command reads (a checkpoint, the
 * recipe, a data set, a findings file), nor be or contain the working directory; an existing
 * output is replaced only when it is an earlier output of the same kind — for a checkpoint
 * directory, one holding a {@code manifest.json} that neurotome wrote, and only with
 * {@code --force}. Paths are compared by identity, not by spelling: the real path of each
 * side (symbolic links resolved) and the file key (device and inode) of every ancestor, so
 * a symlinked parent, a symlinked input or a bind mount cannot hide an input. Every refusal
 * is an OUTPUT_FAILED error saying why, raised before anything is computed or written.
 */
public final class OutputGuard {
    /** An input a command reads, with how messages name it (e.g. "the checkpoint named by model.path"). */
    private record Input(String what, Path path, Location location) {
    }

    private final List<Input> inputs;

    private OutputGuard(List<Input> inputs) {
        this.inputs = inputs;
    }

    /**
     * A guard for a command reading {@code inputs} (what → path, in the order errors name
     * them); inputs that do not exist are skipped, since they cannot be destroyed.
     */
    public static OutputGuard protecting(Map<String, Path> inputs) {
        List<Input> list = new ArrayList<>();
        for (Map.Entry<String, Path> e : inputs.entrySet()) {
            if (e.getValue() != null && Files.exists(e.getValue())) {
                list.add(new Input(e.getKey(), e.getValue(), Location.of(e.getValue())));
                if (Files.isDirectory(e.getValue())) {
                    list.addAll(linksInside(e.getKey(), e.getValue()));
                }
            }
        }
        return new OutputGuard(List.copyOf(list));
    }

    /** How deep into a directory input its symbolic links are looked for (a checkpoint, an adapter). */
    private static final int LINK_DEPTH = 4;

    /**
     * The files a directory input reaches through symbolic links inside it (a checkpoint whose
     * {@code model.safetensors} links elsewhere): inputs too, wherever they are.
     */
    private static List<Input> linksInside(String what, Path dir) {
        List<Input> links = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir, LINK_DEPTH)) {
            for (Path p : walk.filter(Files::isSymbolicLink).filter(Files::exists).toList()) {
                links.add(new Input("the target of the link " + dir.relativize(p) + " in " + what, p.toRealPath(),
                        Location.of(p)));
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            // an unreadable directory is refused where it is read, with its own message
        }
        return links;
    }

    /** A guard with no inputs but the working directory. */
    public static OutputGuard none() {
        return new OutputGuard(List.of());
    }

    /** This guard protecting {@code path} too. */
    public OutputGuard and(String what, Path path) {
        Map<String, Path> more = new LinkedHashMap<>();
        more.put(what, path);
        List<Input> list = new ArrayList<>(inputs);
        list.addAll(protecting(more).inputs);
        return new OutputGuard(List.copyOf(list));
    }

    /**
     * Checks a checkpoint output directory that is written whole and renamed into place: it
     * must not overlap an input or be or contain the working directory; it may exist only as
     * an empty directory or, with {@code force}, as an earlier neurotome output.
     *
     * @return {@code out}, absolute and normalized
     */
    public Path checkpointDirectory(Path out, boolean force) {
        Path shown = out.toAbsolutePath().normalize();
        Location loc = refuseLink(shown);
        Location cwd = Location.of(Path.of("").toAbsolutePath());
        if (loc.sameAs(cwd)) {
            throw refuse(shown, "is the working directory; refusing to replace it");
        }
        if (cwd.inside(loc)) {
            throw refuse(shown, "contains the working directory; refusing to replace it");
        }
        refuseOverlap(shown, loc, true);
        refuseUnwritable(shown);
        if (!Files.exists(shown, LinkOption.NOFOLLOW_LINKS)) {
            return shown;
        }
        if (!Files.isDirectory(shown, LinkOption.NOFOLLOW_LINKS)) {
            throw refuse(shown, "exists and is not a directory; refusing to replace it (an output is a directory)");
        }
        if (isEmptyDirectory(shown)) {
            return shown;
        }
        if (!OutputMarker.isNeurotomeOutput(shown)) {
            throw refuse(shown, "exists and is not a neurotome output (no " + OutputMarker.FILE + " written by neurotome);"
                    + " refusing to replace it, even with --force: choose a new directory");
        }
        if (!force) {
            throw refuse(shown, "already exists; pass --force to replace it");
        }
        return shown;
    }

    /**
     * Checks a directory that named files are written into, each replacing only its own name
     * (eval reports, data sets): it must not overlap an input and must be a directory if it exists.
     *
     * @return {@code dir}, absolute and normalized
     */
    public Path fileDirectory(Path dir) {
        Path shown = dir.toAbsolutePath().normalize();
        Location loc = Location.of(shown);
        refuseOverlap(shown, loc, false);
        if (Files.exists(shown) && !Files.isDirectory(shown)) {
            throw refuse(shown, "exists and is not a directory");
        }
        return shown;
    }

    /**
     * Checks one output file: it must not be or lie inside an input, and may replace an existing
     * file only when {@code ours} recognises it as an earlier output of its kind ({@code kind},
     * e.g. "a findings JSON").
     *
     * @return {@code file}, absolute and normalized
     */
    public Path file(Path file, String kind, Predicate<Path> ours) {
        Path shown = file.toAbsolutePath().normalize();
        Location loc = Location.of(shown);
        refuseOverlap(shown, loc, false);
        if (Files.isDirectory(shown)) {
            throw refuse(shown, "is a directory; give a file name for " + kind);
        }
        // only a regular file is read back: opening a pipe or a terminal to read it would wait for ever
        if (Files.exists(shown) && !Files.isRegularFile(shown)) {
            throw refuse(shown, "exists and is not a regular file (a pipe, a device or a socket); refusing to read"
                    + " or replace it: give a file name for " + kind);
        }
        if (Files.exists(shown) && !ours.test(shown)) {
            throw refuse(shown, "exists and is not " + kind + " written by neurotome; refusing to replace it:"
                    + " choose a new file name");
        }
        return shown;
    }

    private static Location refuseLink(Path shown) {
        if (Files.isSymbolicLink(shown)) {
            String target;
            try {
                target = String.valueOf(Files.readSymbolicLink(shown));
            } catch (IOException e) {
                target = "?";
            }
            throw refuse(shown, "is a symbolic link (to " + target + "); give the directory itself");
        }
        return Location.of(shown);
    }

    /** {@code replacesWhole}: the output replaces everything under it, so containing an input is refused too. */
    private void refuseOverlap(Path shown, Location out, boolean replacesWhole) {
        for (Input in : inputs) {
            String what = in.what() + " (" + in.path() + ")";
            if (out.sameAs(in.location())) {
                throw refuse(shown, "is " + what + "; an output must not replace an input");
            }
            if (out.inside(in.location())) {
                throw refuse(shown, "lies inside " + what + "; an output must not be written into an input");
            }
            if (replacesWhole && in.location().inside(out)) {
                throw refuse(shown, "contains " + what + "; an output must not replace an input");
            }
        }
    }

    /** Refuses an output whose folder cannot be created or written: a file in the way, or no permission. */
    private static void refuseUnwritable(Path shown) {
        Path parent = shown.getParent();
        Path existing = parent;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return;
        }
        if (!Files.isDirectory(existing)) {
            throw refuse(shown, "cannot be created: " + existing + " is a file, not a directory");
        }
        if (!Files.isWritable(existing)) {
            throw refuse(shown, "cannot be created: " + existing + " is not writable");
        }
    }

    private static boolean isEmptyDirectory(Path dir) {
        try (Stream<Path> list = Files.list(dir)) {
            return list.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    private static NeurotomeException refuse(Path out, String why) {
        return new NeurotomeException(ExitCode.OUTPUT_FAILED, out + ": " + why);
    }

    /**
     * Where a path really is: the real path of its deepest existing ancestor (itself when it
     * exists) with the rest of its names, and the file keys of that ancestor and all of its
     * parents.
     */
    private record Location(Path real, boolean exists, Object key, List<Object> ancestorKeys) {
        static Location of(Path path) {
            Path abs = path.toAbsolutePath();
            Path real = abs.getRoot();
            int i = 0;
            for (; i < abs.getNameCount(); i++) {
                Path next = real.resolve(abs.getName(i));
                if (!Files.exists(next)) {
                    break;
                }
                try {
                    real = next.toRealPath();
                } catch (IOException e) {
                    break;
                }
            }
            boolean exists = i == abs.getNameCount();
            List<Object> keys = new ArrayList<>();
            for (Path p = real; p != null; p = p.getParent()) {
                keys.add(key(p));
            }
            Object key = exists ? keys.getFirst() : null;
            Path full = real;
            for (; i < abs.getNameCount(); i++) {
                full = full.resolve(abs.getName(i));
            }
            return new Location(full.normalize(), exists, key, keys);
        }

        private static Object key(Path p) {
            try {
                Object k = Files.readAttributes(p, BasicFileAttributes.class).fileKey();
                return k != null ? k : p;
            } catch (IOException e) {
                return p;
            }
        }

        boolean sameAs(Location other) {
            return real.equals(other.real) || exists && other.exists && Objects.equals(key, other.key);
        }

        /** Whether this lies strictly inside {@code dir}. */
        boolean inside(Location dir) {
            if (sameAs(dir)) {
                return false;
            }
            if (real.startsWith(dir.real)) {
                return true;
            }
            return dir.exists && ancestorKeys.subList(exists ? 1 : 0, ancestorKeys.size()).contains(dir.key);
        }
    }
}
