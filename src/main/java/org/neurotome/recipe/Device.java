package org.neurotome.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Where the model runs: {@code auto} picks a GPU when DJL finds CUDA libtorch, else the CPU. */
public enum Device {
    @JsonProperty("auto") AUTO,
    @JsonProperty("cpu") CPU,
    @JsonProperty("gpu") GPU
}
