package org.neurotome.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;

/** The dtype of the written floating-point tensors: {@code keep} each tensor's input dtype, or convert. */
public enum OutputDtype {
    @JsonProperty("keep") KEEP,
    @JsonProperty("F32") F32,
    @JsonProperty("F16") F16,
    @JsonProperty("BF16") BF16
}
