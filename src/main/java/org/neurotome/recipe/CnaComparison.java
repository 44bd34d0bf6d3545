package org.neurotome.recipe;

import java.nio.file.Path;
import java.util.List;

/**
 * The second run B that Comparative Neuron Analysis sets against the model's run A
 * (docs/method.md A4: CNA(l,k) = Imp_A(l,k) − Imp_B(l,k), with A's norm scale and prediction).
 */
public sealed interface CnaComparison {

    /** B = the same model with these heads ablated (the arithmetic-head analysis, P1 §4.1). */
    record AblatedHeads(HeadSet heads) implements CnaComparison {
    }

    /** B = another checkpoint of the same shape (base vs fine-tuned, P1 §5). */
    record OtherCheckpoint(Path checkpoint) implements CnaComparison {
    }

    /** B = the same checkpoint with a LoRA adapter on its weights (base vs LoRA, P1 §5). */
    record WithAdapter(Path adapter) implements CnaComparison {
    }

    /** B = the same model on prompts differing in one word, one per prompt (woman/man, P1 §6.2). */
    record ContrastPrompts(List<String> prompts) implements CnaComparison {
    }
}
