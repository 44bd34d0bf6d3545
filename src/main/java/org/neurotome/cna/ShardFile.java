package org.neurotome.cna;

import org.neurotome.NeurotomeException;
import org.neurotome.Scratch;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The file a shard of a sharded analysis ({@link HeadScanShard}, {@link AttributionShard},
 * {@link org.neurotome.lora.LoraScanShard}) is stored in: the
 * line {@code neurotome shard <kind> 1}, then the shard's fields big-endian as
 * {@link DataOutputStream} writes them, floats as their exact bits, so a shard read back is the
 * shard written. Written through a temporary sibling renamed into place: a file that is there
 * is whole.
 */
public final class ShardFile {
    private static final String MAGIC = "neurotome shard ";
    private static final int VERSION = 1;

    /** Writes a shard's fields. */
    public interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    /** Reads a shard's fields. */
    public interface Reader<T> {
        T read(DataInputStream in) throws IOException;
    }

    private ShardFile() {
    }

    public static void write(Path file, String kind, Writer fields) {
        try (Scratch tmp = Scratch.temporary(file, Scratch.TMP)) {
            try (OutputStream os = Files.newOutputStream(tmp.path(), StandardOpenOption.CREATE_NEW);
                 DataOutputStream out = new DataOutputStream(new BufferedOutputStream(os, 1 << 16))) {
                out.writeBytes(MAGIC + kind + " " + VERSION + "\n");
                fields.write(out);
            }
            tmp.moveTo(file.toAbsolutePath());
        } catch (IOException e) {
            throw NeurotomeException.outputFailed("cannot write " + file + ": " + NeurotomeException.reason(e), e);
        }
    }

    public static <T> T read(Path file, String kind, Reader<T> fields) {
        String header = MAGIC + kind + " " + VERSION + "\n";
        try (InputStream is = Files.newInputStream(file);
             DataInputStream in = new DataInputStream(new BufferedInputStream(is, 1 << 16))) {
            byte[] head = in.readNBytes(header.length());
            if (!new String(head, StandardCharsets.ISO_8859_1).equals(header)) {
                throw NeurotomeException.badInput(file + ": not a " + kind + " shard written by this neurotome");
            }
            T value = fields.read(in);
            if (in.read() != -1) {
                throw NeurotomeException.badInput(file + ": not a " + kind + " shard: bytes after its end");
            }
            return value;
        } catch (NoSuchFileException e) {
            throw NeurotomeException.badInput(file + ": no such shard");
        } catch (EOFException e) {
            throw NeurotomeException.badInput(file + ": not a " + kind + " shard: cut short");
        } catch (IOException e) {
            throw NeurotomeException.badInput(file + ": cannot read: " + NeurotomeException.reason(e));
        }
    }

    /** A count, refused when negative. */
    public static int count(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            throw new EOFException();
        }
        return n;
    }

    public static void writeInts(DataOutputStream out, int[] v) throws IOException {
        for (int x : v) {
            out.writeInt(x);
        }
    }

    public static int[] readInts(DataInputStream in, int n) throws IOException {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = in.readInt();
        }
        return v;
    }

    public static void writeFloats(DataOutputStream out, float[] v) throws IOException {
        for (float x : v) {
            out.writeInt(Float.floatToRawIntBits(x));
        }
    }

    public static float[] readFloats(DataInputStream in, int n) throws IOException {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = Float.intBitsToFloat(in.readInt());
        }
        return v;
    }

    public static void writeDoubles(DataOutputStream out, double[] v) throws IOException {
        for (double x : v) {
            out.writeLong(Double.doubleToRawLongBits(x));
        }
    }

    public static double[] readDoubles(DataInputStream in, int n) throws IOException {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = Double.longBitsToDouble(in.readLong());
        }
        return v;
    }

    public static void writeBooleans(DataOutputStream out, boolean[] v) throws IOException {
        for (boolean x : v) {
            out.writeBoolean(x);
        }
    }

    public static boolean[] readBooleans(DataInputStream in, int n) throws IOException {
        boolean[] v = new boolean[n];
        for (int i = 0; i < n; i++) {
            v[i] = in.readBoolean();
        }
        return v;
    }
}
