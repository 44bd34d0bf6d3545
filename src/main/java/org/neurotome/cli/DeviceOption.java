package org.neurotome.cli;

import ai.djl.Device;
import org.neurotome.model.Devices;
import picocli.CommandLine.Option;

/** The {@code --device auto|cpu|gpu} option of commands that run a model. */
public final class DeviceOption {
    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto",
            description = "auto (GPU when libtorch has CUDA, else CPU), cpu or gpu. Default: ${DEFAULT-VALUE}.")
    String device;

    Device resolve() {
        return Devices.parse(device);
    }
}
