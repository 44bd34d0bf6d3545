package org.neurotome.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Where a tensor body writes its bytes: the shard file being written. Copies of unedited
 * tensors go file-to-file inside the kernel ({@link FileChannel#transferTo}, i.e.
 * copy_file_range on Linux), so they neither pass through the Java heap nor stay resident.
 */
public final class ShardSink {
    private final FileChannel out;
    private long count;

    ShardSink(FileChannel out) {
        this.out = out;
    }

    public void write(byte[] bytes) throws IOException {
        write(bytes, 0, bytes.length);
    }

    public void write(byte[] bytes, int offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes, offset, length);
        while (b.hasRemaining()) {
            out.write(b);
        }
        count += length;
    }

    /** Copies {@code length} bytes of {@code source} starting at {@code position}. */
    public void transferFrom(FileChannel source, long position, long length) throws IOException {
        long done = 0;
        while (done < length) {
            long n = source.transferTo(position + done, length - done, out);
            if (n <= 0) {
                throw new IOException("source ended " + (length - done) + " bytes early");
            }
            done += n;
        }
        count += length;
    }

    long count() {
        return count;
    }
}
