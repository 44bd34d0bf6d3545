package org.neurotome.model;

import ai.djl.ndarray.NDManager;
import org.neurotome.arch.Architecture;
import org.neurotome.arch.ModelConfig;
import org.neurotome.arch.Role;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;

/**
 * Freshly initialised weights as transformers' {@code _init_weights} does for these families
 * ({@code PreTrainedModel._init_weights} in each {@code modeling_*.py}): matrices and embeddings
 * drawn from N(0, std²), norm weights 1 (0 where the family scales by {@code 1 + w}), biases 0;
 * a mixture of experts gets its router and each expert's tensors in its sparse layers.
 */
public final class InitialWeights {
    /** The norm weights (gains) among the roles. */
    private static final Set<Role> NORMS = EnumSet.of(Role.LN1, Role.LN2, Role.LN_F, Role.Q_NORM, Role.K_NORM,
            Role.LN1_POST, Role.LN2_POST);

    private InitialWeights() {
    }

    /** Weights for training, resident and contiguous, with the values of {@link #tensors}. */
    public static Weights initialize(NDManager parent, ModelConfig config, Random random, double std) {
        return Weights.fromTensors(parent, config, config.architecture(), tensors(config, random, std));
    }

    /** The initial values by checkpoint tensor name, drawn in the family table's order of roles and layers. */
    public static Function<String, float[]> tensors(ModelConfig config, Random random, double std) {
        Architecture arch = config.architecture();
        Map<String, float[]> values = new LinkedHashMap<>();
        for (Role r : arch.roles(config)) {
            if (!r.perLayer()) {
                values.put(arch.tensorName(r), draw(r, arch, config, random, std));
                continue;
            }
            for (int l = 0; l < config.numLayers(); l++) {
                if (!arch.has(r, config, l)) {
                    continue;  // a dense FFN role in a sparse layer, or an expert role in a dense one
                }
                if (r.perExpert()) {
                    for (int e = 0; e < config.features().experts().count(); e++) {
                        values.put(arch.tensorName(r, l, e), draw(r, arch, config, random, std));
                    }
                } else {
                    values.put(arch.tensorName(r, l), draw(r, arch, config, random, std));
                }
            }
        }
        return values::get;
    }

    private static float[] draw(Role r, Architecture arch, ModelConfig config, Random random, double std) {
        float[] v = new float[Math.toIntExact(Weights.numel(arch.shape(r, config)))];
        boolean norm = NORMS.contains(r);
        boolean bias = r.key().endsWith("_bias");
        float unit = arch.normPlusOne() ? 0f : 1f;
        for (int i = 0; i < v.length; i++) {
            v[i] = norm ? unit : bias ? 0f : (float) (random.nextGaussian() * std);
        }
        return v;
    }
}
