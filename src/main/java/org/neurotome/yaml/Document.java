package org.neurotome.yaml;

import com.fasterxml.jackson.core.JsonPointer;
import org.neurotome.NeurotomeException;
import org.neurotome.archive.ArchiveFormat;

import java.nio.file.Files;
import java.util.List;

/**
 * A bound document: the record {@link StrictYaml} built, and the source tree it came from, so
 * that checks made after binding (do the files it names exist?) are positioned too.
 *
 * @param value the bound record
 * @param tree  the YAML tree with the position of every key and value
 */
public record Document<T>(T value, SourceTree tree) {

    /** A BAD_INPUT error about the value at a dotted key path such as {@code locate.0.dataset}. */
    public NeurotomeException error(String dottedKey, SchemaViolation violation) {
        JsonPointer pointer = SourceTree.pointer(dottedKey);
        return tree.error(tree.valuePosition(pointer), violation.describe(tree.place(pointer, false)));
    }

    /** Throws a positioned BAD_INPUT error for the first referenced file that does not exist. */
    public void requireFiles(List<ReferencedFile> files) {
        for (ReferencedFile f : files) {
            String wanted = f.directory() ? "directory" : "file";
            if (!Files.exists(f.path())) {
                throw error(f.key(), SchemaViolation.of("missing " + wanted).got(f.path().toString()));
            }
            boolean right = f.directory()
                    ? Files.isDirectory(f.path()) || ArchiveFormat.isArchive(f.path()) && Files.isRegularFile(f.path())
                    : Files.isRegularFile(f.path());
            if (!right) {
                throw error(f.key(), SchemaViolation.of("not a " + wanted).got(f.path().toString()));
            }
        }
    }
}
