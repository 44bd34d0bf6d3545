package org.neurotome.lora;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.checkpoint.Checkpoint;
import org.neurotome.checkpoint.FloatCodec;
import org.neurotome.checkpoint.Manifest;
import org.neurotome.checkpoint.SafetensorsFile;
import org.neurotome.checkpoint.TensorInfo;
import org.neurotome.model.ReferenceData;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An adapter neurotome writes is the file PEFT wrote: read a PEFT adapter, write it back, and
 * the tensor names, shapes and values are PEFT's, the config selects the same modules with the
 * same ranks and scales, the metadata is PEFT's {@code {"format": "pt"}}, and a manifest lists
 * both files' SHA-256.
 */
class LoraAdapterWriteTest {
    static List<String> cases() {
        return LoraReference.cases();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void writingAPeftAdapterGivesPeftsFileBack(String name, @TempDir Path tmp) throws Exception {
        LoraAdapter peft = LoraAdapter.read(LoraReference.adapter(name));
        List<LoraModule> modules;
        Architecture arch;
        ModelConfig config;
        try (Checkpoint ck = Checkpoint.open(ReferenceData.caseDir(name))) {
            arch = Architecture.forCheckpoint(ck);
            config = ModelConfig.from(ck.config());
            modules = peft.bind(arch, config);
        }
        Path out = tmp.resolve("written");
        LoraAdapter.write(out, peft.config(), modules, Map.of(), Map.of(), false, null);
        Map<String, float[]> original = tensors(LoraReference.adapter(name).resolve(LoraAdapter.WEIGHTS));
        Map<String, float[]> written = tensors(out.resolve(LoraAdapter.WEIGHTS));
        assertEquals(original.keySet(), written.keySet(), name);
        original.forEach((k, v) -> assertArrayEquals(v, written.get(k), name + ": " + k));
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve(LoraAdapter.WEIGHTS));
             SafetensorsFile g = SafetensorsFile.open(LoraReference.adapter(name).resolve(LoraAdapter.WEIGHTS))) {
            assertEquals(g.metadata(), f.metadata());
            for (TensorInfo t : g.tensors().values()) {
                assertArrayEquals(t.shape(), f.tensors().get(t.name()).shape(), t.name());
            }
        }
        List<LoraModule> back = LoraAdapter.read(out).bind(arch, config);
        assertEquals(modules.size(), back.size());
        for (int i = 0; i < modules.size(); i++) {
            assertEquals(modules.get(i).module(), back.get(i).module());
            assertEquals(modules.get(i).rank(), back.get(i).rank());
            assertEquals(modules.get(i).scale(), back.get(i).scale(), 1e-15);
        }
        assertTrue(Manifest.verify(out).stream().allMatch(Manifest.Check::ok));
        assertTrue(Files.isRegularFile(out.resolve(LoraConfig.FILE)));
    }

    private static Map<String, float[]> tensors(Path file) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (TensorInfo t : f.tensors().values()) {
                out.put(t.name(), FloatCodec.decode(f.bytes(t), t.dtype(), (int) t.numel()));
            }
        }
        return out;
    }
}
