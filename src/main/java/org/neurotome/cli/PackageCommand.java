package org.neurotome.cli;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.output.OutputGuard;
import org.neurotome.archive.ArchiveFormat;
import org.neurotome.archive.ArchiveWriter;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.Manifest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code neurotome package DIR --format FORMAT}: archives a checkpoint neurotome wrote, after
 * checking every file against its manifest.json, as a reproducible tar, tar.gz or tar.zst
 * beside it (or at {@code --out}).
 */
@Command(name = "package", mixinStandardHelpOptions = true,
        description = "Archive an output directory after checking it against its manifest.json (exit 3 on a mismatch).")
public final class PackageCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "A checkpoint directory neurotome wrote (with manifest.json).")
    Path dir;

    @Option(names = "--format", paramLabel = "FORMAT",
            description = "tar, tar.gz or tar.zst. Default: the extension of --out, else tar.gz.")
    String format;

    @Option(names = "--out", paramLabel = "FILE", description = "Where the archive goes. Default: DIR with the format's extension.")
    Path out;

    @Option(names = "--force", description = "Replace an existing archive.")
    boolean force;

    @Override
    public Integer call() {
        ArchiveFormat f = format != null ? ArchiveFormat.parse(format)
                : out != null ? ArchiveFormat.of(out).orElseThrow(() -> NeurotomeException.badInput(out
                + ": give --format, or an --out ending in .tar, .tar.gz or .tar.zst")) : ArchiveFormat.TAR_GZ;
        if (out != null && ArchiveFormat.of(out).orElse(null) != f) {
            throw NeurotomeException.badInput(out + ": a " + f.id() + " archive must be named *" + f.extension());
        }
        if (!Files.isDirectory(dir)) {
            throw NeurotomeException.badInput(dir + ": not a directory; package takes a checkpoint directory neurotome wrote");
        }
        Path target = OutputGuard.protecting(Map.of("the directory archived", dir))
                .file(out != null ? out : f.besides(dir), "a " + f.id() + " archive", p -> true);
        if (Files.exists(target) && !force) {
            throw new NeurotomeException(ExitCode.OUTPUT_FAILED, target + ": already exists; pass --force to replace it");
        }
        List<Manifest.Check> checks = Manifest.verify(dir);
        List<Manifest.Check> bad = checks.stream().filter(c -> !c.ok()).toList();
        if (!bad.isEmpty()) {
            Manifest.Check c = bad.getFirst();
            throw NeurotomeException.badCheckpoint(dir + ": " + bad.size() + " of " + checks.size() + " files do not match "
                    + Manifest.FILE + " (first: " + c.file() + ", manifest " + c.expected() + ", found " + c.actual()
                    + "); nothing was archived");
        }
        try (Checkpoint ignored = Checkpoint.open(dir)) {
            // opening validates config.json, every safetensors header and the index
        }
        Path written = ArchiveWriter.write(dir, f, target, force);
        PrintWriter stdout = spec.commandLine().getOut();
        stdout.println(dir + ": " + checks.size() + " files match " + Manifest.FILE);
        stdout.println("wrote " + written);
        stdout.flush();
        return ExitCode.OK.code();
    }
}
