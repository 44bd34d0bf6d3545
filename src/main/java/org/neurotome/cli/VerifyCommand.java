package org.neurotome.cli;

import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.archive.ArchiveCache;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.lora.LoraConfig;
import org.neurotome.checkpoint.Manifest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code neurotome verify DIR}: re-hashes a written checkpoint (or a LoRA adapter neurotome
 * trained) against its manifest.json and compares the directory's full file list with the
 * manifest's (README "Safety"); an archive is read afresh, unpacked (refusing a hostile one)
 * and checked against the manifest inside it.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Check a checkpoint neurotome wrote, or an archive of one, against its manifest.json (exit 3 on any mismatch).")
public final class VerifyCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "Checkpoint directory with a manifest.json, or a .tar, .tar.gz or .tar.zst archive of one.")
    Path dir;

    @Override
    public Integer call() {
        // an archive is unpacked afresh and these bytes are checked, never an earlier cached copy
        try (ArchiveCache.Unpacked unpacked = ArchiveCache.unpackedAfresh(dir)) {
            return check(unpacked.dir());
        }
    }

    private int check(Path files) {
        List<Manifest.Check> checks = Manifest.verify(files);
        if (Files.isRegularFile(files.resolve(LoraConfig.FILE)) && !Files.exists(files.resolve(Checkpoint.CONFIG))) {
            LoraAdapter.read(files); // a LoRA adapter: reading validates its config and safetensors header
        } else {
            try (Checkpoint ignored = Checkpoint.open(files)) {
                // opening validates every safetensors header and the index
            }
        }
        long bad = 0;
        for (Manifest.Check c : checks) {
            String verdict = c.ok() ? "ok" : "MISMATCH (manifest " + c.expected() + ", found " + c.actual() + ")";
            System.out.printf("%-40s %s%n", c.file(), verdict);
            bad += c.ok() ? 0 : 1;
        }
        if (bad > 0) {
            throw new NeurotomeException(ExitCode.BAD_CHECKPOINT, dir + ": " + bad + " of " + checks.size()
                    + " files do not match " + Manifest.FILE);
        }
        System.out.println(dir + ": " + checks.size() + " files match " + Manifest.FILE);
        return 0;
    }
}
