package org.neurotome.yaml;

import java.nio.file.Path;

/**
 * A file or directory a document refers to, with the dotted key that names it, so a missing
 * input can be reported at the line that names it.
 *
 * @param key       dotted key path in the document, e.g. {@code locate.0.dataset}
 * @param path      the path, already resolved against the document's folder
 * @param directory whether a checkpoint (a directory, or a tar archive of one) rather than a regular file is expected
 */
public record ReferencedFile(String key, Path path, boolean directory) {
}
