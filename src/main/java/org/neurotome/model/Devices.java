package org.neurotome.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import org.neurotome.NeurotomeException;

/**
 * The {@code --device auto|cpu|gpu} choice: {@code auto} is the first GPU when the PyTorch
 * engine sees one (CUDA libtorch installed), the CPU otherwise.
 */
public final class Devices {
    public static final String ALLOWED = "auto, cpu, gpu";

    private Devices() {
    }

    /** The device {@code name} means; an unknown name or an absent GPU is a BAD_INPUT error. */
    public static Device parse(String name) {
        int gpus = Engine.getEngine("PyTorch").getGpuCount();
        return switch (name == null ? "auto" : name) {
            case "auto" -> gpus > 0 ? Device.gpu() : Device.cpu();
            case "cpu" -> Device.cpu();
            case "gpu" -> {
                if (gpus == 0) {
                    throw NeurotomeException.badInput("--device gpu: the PyTorch engine sees no GPU (it needs the CUDA"
                            + " build of libtorch); use --device cpu or auto");
                }
                yield Device.gpu();
            }
            default -> throw NeurotomeException.badInput("--device '" + name + "' is not known; allowed: " + ALLOWED);
        };
    }
}
