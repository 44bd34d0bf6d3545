package org.neurotome.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.neurotome.Json;
import org.neurotome.NeurotomeException;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.lora.LoraAdapter;
import org.neurotome.lora.LoraModule;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code neurotome inspect DIR}: what a checkpoint is — architecture, shape, parameter
 * count, dtypes, shards and metadata — without loading any weights; with {@code --adapter},
 * also the LoRA adapter checked against it and the modules it changes.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Describe a Hugging Face checkpoint directory without loading its weights.")
public final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "Checkpoint directory, or a .tar, .tar.gz or .tar.zst archive of one.")
    Path dir;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--tensors", description = "List every tensor: name, dtype, shape, shard.")
    boolean tensors;

    @Mixin
    AdapterOption adapter;

    @Override
    public Integer call() throws Exception {
        try (Checkpoint ck = Checkpoint.open(dir)) {
            ObjectNode out = describe(ck, tensors);
            out.put("path", dir.toString()); // an archive as named, not where it was unpacked
            LoraAdapter lora = adapter.read();
            if (lora != null) {
                out.set("adapter", describe(lora, ck));
            }
            if (json) {
                System.out.println(Json.pretty().writeValueAsString(out));
            } else {
                print(out);
            }
        }
        return 0;
    }

    static ObjectNode describe(Checkpoint ck, boolean withTensors) {
        ObjectNode out = Json.MAPPER.createObjectNode();
        out.put("path", ck.dir().toString());
        out.put("model_type", ck.config().path("model_type").asText(null));
        out.put("architecture", ck.config().path("architectures").path(0).asText(null));
        try {
            ModelConfig c = ModelConfig.from(ck);
            Architecture.forCheckpoint(ck).validate(ck, c);
            out.put("supported", true);
            out.put("num_layers", c.numLayers());
            out.put("num_heads", c.numHeads());
            out.put("num_kv_heads", c.numKvHeads());
            out.put("head_dim", c.headDim());
            out.put("hidden_size", c.hiddenSize());
            out.put("ffn_size", c.ffnSize());
            out.put("vocab_size", c.vocabSize());
            out.put("tied_embeddings", c.tied());
        } catch (NeurotomeException e) {
            out.put("supported", false);
            out.put("unsupported_reason", e.getMessage());
        }
        long params = 0;
        long bytes = 0;
        Map<String, Integer> dtypes = new TreeMap<>();
        for (TensorInfo t : ck.tensors().values()) {
            params += t.numel();
            bytes += t.byteLength();
            dtypes.merge(t.dtype().name(), 1, Integer::sum);
        }
        out.put("parameters", params);
        out.put("bytes", bytes);
        ObjectNode d = out.putObject("dtypes");
        dtypes.forEach(d::put);
        ArrayNode shards = out.putArray("shards");
        ck.shardFiles().forEach(p -> shards.add(p.getFileName().toString()));
        ObjectNode meta = out.putObject("metadata");
        new TreeMap<>(ck.metadata()).forEach(meta::put);
        out.put("tokenizer", ck.hasFile("tokenizer.json"));
        if (withTensors) {
            ArrayNode list = out.putArray("tensors");
            for (TensorInfo t : ck.tensors().values()) {
                ObjectNode e = list.addObject();
                e.put("name", t.name());
                e.put("dtype", t.dtype().name());
                ArrayNode s = e.putArray("shape");
                for (long x : t.shape()) {
                    s.add(x);
                }
                e.put("shard", t.file().getFileName().toString());
            }
        }
        return out;
    }

    /** The adapter, checked against the checkpoint: its settings and the modules it changes. */
    static ObjectNode describe(LoraAdapter lora, Checkpoint ck) {
        List<LoraModule> modules = lora.bind(Architecture.forCheckpoint(ck), ModelConfig.from(ck.config()));
        ObjectNode a = Json.MAPPER.createObjectNode();
        a.put("path", lora.dir().toString());
        a.put("fingerprint", lora.fingerprint());
        a.put("r", lora.config().r());
        a.put("lora_alpha", lora.config().alpha());
        a.put("use_rslora", lora.config().useRslora());
        a.put("parameters", modules.stream().mapToLong(LoraModule::parameters).sum());
        a.put("summary", LoraAdapter.summary(lora.config(), modules));
        ArrayNode list = a.putArray("modules");
        for (LoraModule m : modules) {
            list.addObject().put("module", m.module()).put("tensor", m.tensor()).put("rank", m.rank())
                    .put("lora_alpha", m.alpha()).put("scale", m.scale());
        }
        return a;
    }

    private static void print(ObjectNode o) {
        System.out.printf("%-16s %s%n", "checkpoint", o.get("path").asText());
        System.out.printf("%-16s %s (%s)%n", "model type", o.path("model_type").asText("?"), o.path("architecture").asText("?"));
        if (o.get("supported").asBoolean()) {
            System.out.printf("%-16s %d%n", "layers", o.get("num_layers").asInt());
            System.out.printf("%-16s %d query / %d key-value, head dim %d%n", "heads",
                    o.get("num_heads").asInt(), o.get("num_kv_heads").asInt(), o.get("head_dim").asInt());
            System.out.printf("%-16s %d%n", "hidden size", o.get("hidden_size").asInt());
            System.out.printf("%-16s %d per layer%n", "FFN neurons", o.get("ffn_size").asInt());
            System.out.printf("%-16s %d%s%n", "vocabulary", o.get("vocab_size").asInt(),
                    o.get("tied_embeddings").asBoolean() ? " (unembedding tied to embeddings)" : "");
        } else {
            System.out.printf("%-16s %s%n", "unsupported", o.get("unsupported_reason").asText());
        }
        System.out.printf("%-16s %,d (%,d bytes)%n", "parameters", o.get("parameters").asLong(), o.get("bytes").asLong());
        System.out.printf("%-16s %s%n", "dtypes", o.get("dtypes").toString());
        System.out.printf("%-16s %s%n", "shards", String.join(", ", toList(o.get("shards"))));
        System.out.printf("%-16s %s%n", "tokenizer", o.get("tokenizer").asBoolean() ? "tokenizer.json" : "none (token ids only)");
        if (!o.get("metadata").isEmpty()) {
            o.get("metadata").fields().forEachRemaining(e ->
                    System.out.printf("%-16s %s = %s%n", "metadata", e.getKey(), e.getValue().asText()));
        }
        if (o.has("adapter")) {
            JsonNode a = o.get("adapter");
            System.out.printf("%-16s %s%n", "adapter", a.get("path").asText());
            System.out.printf("%-16s %s; %,d parameters%n", "", a.get("summary").asText(), a.get("parameters").asLong());
        }
        if (o.has("tensors")) {
            System.out.println();
            for (var t : o.get("tensors")) {
                System.out.printf("%-60s %-5s %-18s %s%n", t.get("name").asText(), t.get("dtype").asText(),
                        t.get("shape").toString(), t.get("shard").asText());
            }
        }
    }

    private static java.util.List<String> toList(com.fasterxml.jackson.databind.JsonNode arr) {
        java.util.List<String> out = new java.util.ArrayList<>();
        arr.forEach(n -> out.add(n.asText()));
        return out;
    }
}
