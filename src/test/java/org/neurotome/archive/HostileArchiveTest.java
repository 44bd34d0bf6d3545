package org.neurotome.archive;

import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neurotome.ExitCode;
import org.neurotome.NeurotomeException;
import org.neurotome.archive.ArchiveFixtures.Entry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile and broken archives are refused with exit 3, the message naming the archive and the
 * entry, and leave nothing behind: not in the cache, not beside it, not where a link or a
 * {@code ..} pointed. One test per kind of attack or damage.
 */
class HostileArchiveTest {
    @TempDir
    Path tmp;

    private AutoCloseable cache;

    @BeforeEach
    void privateCache() {
        cache = ArchiveFixtures.cacheAt(tmp.resolve("cache"));
    }

    @AfterEach
    void restore() throws Exception {
        cache.close();
        System.clearProperty(ArchiveLimits.MAX_BYTES_PROPERTY);
    }

    private static final Entry CONFIG = Entry.file("config.json", "{}");

    /** Resolves {@code archive}, expects a refusal naming {@code entry} and saying {@code why}; checks nothing is left. */
    private void refused(Path archive, String entry, String why) throws IOException {
        NeurotomeException e = assertThrows(NeurotomeException.class, () -> ArchiveCache.directoryOf(archive));
        assertEquals(ExitCode.BAD_CHECKPOINT, e.exitCode(), e.getMessage());
        assertTrue(e.getMessage().startsWith(archive.toString()), e.getMessage());
        if (entry != null) {
            assertTrue(e.getMessage().contains("entry '" + entry + "'"), e.getMessage());
        }
        assertTrue(e.getMessage().toLowerCase(java.util.Locale.ROOT).contains(why.toLowerCase(java.util.Locale.ROOT)), e.getMessage());
        assertEquals(List.of(), ArchiveFixtures.cacheEntries(), "nothing is left in the cache");
    }

    private Path tar(String name, Entry... entries) throws IOException {
        return ArchiveFixtures.archive(tmp, name, ArchiveFormat.TAR, List.of(entries));
    }

    @Test
    void anAbsolutePathIsRefused() throws IOException {
        Path target = tmp.resolve("planted");
        refused(tar("abs.tar", CONFIG, Entry.file(target.toString(), "x")), target.toString(), "absolute path");
        assertFalse(Files.exists(target));
    }

    @Test
    void aDotDotComponentIsRefused() throws IOException {
        refused(tar("up.tar", CONFIG, Entry.file("../planted", "x")), "../planted", "'..'");
        refused(tar("deep.tar", CONFIG, Entry.file("eval/../../planted", "x")), "eval/../../planted", "'..'");
        assertFalse(Files.exists(tmp.resolve("planted")));
        assertFalse(Files.exists(tmp.resolve("cache/planted")));
    }

    @Test
    void aSymbolicLinkLeadingOutsideIsRefused() throws IOException {
        refused(tar("abs-link.tar", CONFIG, Entry.symlink("passwd", "/etc/passwd")), "passwd", "outside the archive");
        refused(tar("rel-link.tar", CONFIG, Entry.symlink("eval/up", "../../..")), "eval/up", "outside the archive");
        // each link on its own stays inside; followed one after the other they leave
        refused(tar("chain.tar", CONFIG, Entry.dir("sub"), Entry.symlink("sub/top", ".."),
                Entry.symlink("escape", "sub/top/..")), "escape", "outside the archive");
        // and nothing is ever written through a link, even one pointing inside
        refused(tar("through.tar", CONFIG, Entry.dir("real"), Entry.symlink("alias", "real"),
                Entry.file("alias/x", "x")), "alias/x", "'alias' is a link earlier in the archive, not a folder");
    }

    @Test
    void aLinkInsideIsKept() throws IOException {
        Path dir = ArchiveCache.directoryOf(tar("ok.tar", CONFIG, Entry.dir("blobs"), Entry.file("blobs/abc", "weights"),
                Entry.symlink("model.safetensors", "blobs/abc"), Entry.hardLink("copy.safetensors", "blobs/abc")));
        assertEquals("weights", Files.readString(dir.resolve("model.safetensors")));
        assertEquals("weights", Files.readString(dir.resolve("copy.safetensors")));
    }

    @Test
    void aHardLinkLeadingOutsideIsRefused() throws IOException {
        refused(tar("hard-abs.tar", CONFIG, Entry.hardLink("passwd", "/etc/passwd")), "passwd", "outside the archive");
        refused(tar("hard-up.tar", CONFIG, Entry.hardLink("x", "../secret")), "x", "outside the archive");
        refused(tar("hard-missing.tar", CONFIG, Entry.hardLink("x", "later"), Entry.file("later", "x")), "x",
                "not a file earlier in the archive");
    }

    @Test
    void deviceFilesAndFifosAreRefused() throws IOException {
        refused(tar("chr.tar", CONFIG, Entry.special("null", TarConstants.LF_CHR)), "null", "device file");
        refused(tar("blk.tar", CONFIG, Entry.special("sda", TarConstants.LF_BLK)), "sda", "device file");
        refused(tar("fifo.tar", CONFIG, Entry.special("pipe", TarConstants.LF_FIFO)), "pipe", "FIFO");
    }

    @Test
    void duplicateNamesAreRefused() throws IOException {
        refused(tar("dup.tar", CONFIG, Entry.file("config.json", "{\"other\": 1}")), "config.json", "appears twice");
        refused(tar("dot-dup.tar", CONFIG, Entry.file("./config.json", "{}")), "./config.json", "appears twice");
        refused(tar("file-dir.tar", CONFIG, Entry.file("eval/report.json", "{}"), Entry.file("eval", "x")), "eval",
                "folder of entries earlier");
        refused(tar("dir-file.tar", CONFIG, Entry.file("eval/report.json", "{}"), Entry.file("eval/report.json/x", "{}")),
                "eval/report.json/x", "'eval/report.json' is a file earlier in the archive");
    }

    @Test
    void anUnpackedSizeOverTheLimitIsRefused() throws IOException {
        System.setProperty(ArchiveLimits.MAX_BYTES_PROPERTY, String.valueOf(1 << 20));
        // 64 MiB of zeros compress to a few kilobytes: a decompression bomb
        Path bomb = ArchiveFixtures.archive(tmp, "bomb.tar.gz", ArchiveFormat.TAR_GZ,
                List.of(CONFIG, Entry.file("model.safetensors", new byte[64 << 20])));
        assertTrue(Files.size(bomb) < 1 << 20, "the archive itself is small: " + Files.size(bomb));
        refused(bomb, "model.safetensors", "over the limit of 1048576");
    }

    @Test
    void aTruncatedStreamIsRefused() throws IOException {
        byte[] whole = ArchiveFixtures.tar(List.of(CONFIG, Entry.file("model.safetensors", new byte[5000])));
        // cut right after the last entry's data: tar readers that stop at end of input see a complete archive
        Path atBoundary = tmp.resolve("boundary.tar");
        Files.write(atBoundary, Arrays.copyOf(whole, 512 + 512 + 512 + 5120));
        refused(atBoundary, null, "truncated");
        Path midEntry = tmp.resolve("mid.tar");
        Files.write(midEntry, Arrays.copyOf(whole, 512 + 512 + 512 + 2000));
        refused(midEntry, "model.safetensors", "truncated");
        for (ArchiveFormat f : List.of(ArchiveFormat.TAR_GZ, ArchiveFormat.TAR_ZST)) {
            byte[] packed = ArchiveFixtures.compress(whole, f);
            Path cut = tmp.resolve("cut" + f.extension());
            Files.write(cut, Arrays.copyOf(packed, packed.length - 6));
            refused(cut, null, "");
        }
    }

    @Test
    void aCorruptStreamIsRefused() throws IOException {
        byte[] whole = ArchiveFixtures.tar(List.of(CONFIG, Entry.file("model.safetensors", new byte[50_000])));
        for (ArchiveFormat f : List.of(ArchiveFormat.TAR_GZ, ArchiveFormat.TAR_ZST)) {
            byte[] packed = ArchiveFixtures.compress(whole, f);
            byte[] middle = packed.clone();
            for (int i = 0; i < 16; i++) {
                middle[packed.length / 3 + i] ^= 0x55;
            }
            Path bad = tmp.resolve("bad" + f.extension());
            Files.write(bad, middle);
            refused(bad, null, "");
            // the stream decodes but its check value (gzip's CRC-32, zstd's content checksum) does not match
            byte[] check = packed.clone();
            check[f == ArchiveFormat.TAR_GZ ? packed.length - 8 : packed.length - 1] ^= 0x01;
            Files.write(bad, check);
            refused(bad, null, "");
        }
        byte[] header = whole.clone();
        header[100] ^= 0x01; // inside the first header's mode field: its checksum no longer adds up
        Path badHeader = tmp.resolve("header.tar");
        Files.write(badHeader, header);
        refused(badHeader, null, "");
    }

    @Test
    void aNameThatLiesAboutTheFormatIsRefused() throws IOException {
        byte[] zst = ArchiveFixtures.compress(ArchiveFixtures.tar(List.of(CONFIG)), ArchiveFormat.TAR_ZST);
        Path lying = tmp.resolve("model.tar.gz");
        Files.write(lying, zst);
        refused(lying, null, "named .tar.gz but is tar.zst data");
    }
}
