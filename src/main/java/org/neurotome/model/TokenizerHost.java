package org.neurotome.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The process that runs the Hugging Face tokenizers library (through DJL) for
 * {@link TokenizerProcess}: the library is native code, and some inputs make it abort the
 * process it runs in (a regular expression in {@code tokenizer.json} that backtracks past the
 * regex engine's limit panics inside the library), so it never runs in neurotome's own JVM.
 *
 * <p>Requests and answers travel over standard input and output, one at a time
 * ({@link TokenizerProcess} writes and reads the same layout): a request is an operation byte
 * and its arguments; an answer is {@link #OK} and the result, or {@link #FAILED} and a message.
 * <ul>
 *   <li>{@link #LOAD}: the file's path (UTF) → a handle (int);</li>
 *   <li>{@link #ENCODE}: handle, whether to add special tokens, the text (UTF-8 bytes) → the ids;</li>
 *   <li>{@link #DECODE}: handle, whether to skip special tokens, the ids → the text (UTF-8 bytes);</li>
 *   <li>{@link #CLOSE}: handle → nothing.</li>
 * </ul>
 * The process ends when its standard input does, or when neurotome's process ends while a
 * call still runs, so it never outlives neurotome.
 */
public final class TokenizerHost {
    static final byte LOAD = 'L';
    static final byte ENCODE = 'E';
    static final byte DECODE = 'D';
    static final byte CLOSE = 'C';
    static final byte OK = 'K';
    static final byte FAILED = 'F';

    private TokenizerHost() {
    }

    public static void main(String[] args) throws IOException {
        // a call that runs for ever would not read the end of its input: watch the parent too
        ProcessHandle.current().parent().ifPresent(p -> p.onExit().thenRun(() -> Runtime.getRuntime().halt(0)));
        // the answers own standard output; anything a library prints goes to standard error
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out)));
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in));
        Map<Integer, HuggingFaceTokenizer> open = new HashMap<>();
        int next = 0;
        while (true) {
            byte op;
            try {
                op = in.readByte();
            } catch (EOFException e) {
                return;
            }
            try {
                switch (op) {
                    case LOAD -> {
                        Path file = Path.of(in.readUTF());
                        HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens",
                                "false", "padding", "false", "truncation", "false"));
                        open.put(next, tok);
                        out.writeByte(OK);
                        out.writeInt(next++);
                    }
                    case ENCODE -> {
                        // every argument is read before anything can fail, so the next request starts in step
                        int handle = in.readInt();
                        boolean special = in.readBoolean();
                        String text = new String(in.readNBytes(in.readInt()), java.nio.charset.StandardCharsets.UTF_8);
                        long[] ids = tokenizer(open, handle).encode(text, special, false).getIds();
                        out.writeByte(OK);
                        out.writeInt(ids.length);
                        for (long id : ids) {
                            out.writeLong(id);
                        }
                    }
                    case DECODE -> {
                        int handle = in.readInt();
                        boolean skipSpecial = in.readBoolean();
                        long[] ids = new long[in.readInt()];
                        for (int i = 0; i < ids.length; i++) {
                            ids[i] = in.readLong();
                        }
                        byte[] text = tokenizer(open, handle).decode(ids, skipSpecial)
                                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
                        out.writeByte(OK);
                        out.writeInt(text.length);
                        out.write(text);
                    }
                    case CLOSE -> {
                        HuggingFaceTokenizer tok = open.remove(in.readInt());
                        if (tok != null) {
                            tok.close();
                        }
                        out.writeByte(OK);
                    }
                    default -> throw new IOException("unknown request " + op);
                }
            } catch (RuntimeException | IOException e) {
                if (e instanceof EOFException) {
                    return;
                }
                String message = String.valueOf(e.getMessage());
                out.writeByte(FAILED);
                out.writeUTF(message.length() > 2000 ? message.substring(0, 2000) + "…" : message);
            }
            out.flush();
        }
    }

    private static HuggingFaceTokenizer tokenizer(Map<Integer, HuggingFaceTokenizer> open, int handle) {
        HuggingFaceTokenizer tok = open.get(handle);
        if (tok == null) {
            throw new IllegalStateException("no tokenizer " + handle);
        }
        return tok;
    }
}
